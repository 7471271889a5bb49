/**
 * Static checks of the gateway image (no Docker engine here): pinned bases, non-root, production
 * dependencies only, and a command that reads what the Kubernetes construct mounts.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { builtinModules } from "node:module";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findStack, synthesize } from "../../examples/local-platform/synth.js";

const ROOT = resolve(import.meta.dirname, "../..");
const dockerfile = readFileSync(join(ROOT, "runtime/Dockerfile"), "utf8");
const instructions = dockerfile
  .replace(/\\\n/g, " ")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith("#"));
const froms = instructions.filter((l) => /^FROM\s/i.test(l));
const lastStage = instructions.slice(instructions.lastIndexOf(froms[froms.length - 1] ?? ""));
/** The instructions of the stage named `name` (`FROM … AS name`). */
function stage(name: string): string[] {
  const start = instructions.findIndex((l) => new RegExp(`^FROM\\s.*\\sAS\\s+${name}$`, "i").test(l));
  if (start < 0) throw new Error(`no stage ${name}`);
  const next = instructions.findIndex((l, i) => i > start && /^FROM\s/i.test(l));
  return instructions.slice(start, next < 0 ? undefined : next);
}

function jsonArray(instruction: string): string[] {
  const line = lastStage.find((l) => l.startsWith(`${instruction} `));
  if (!line) throw new Error(`no ${instruction} in the runtime stage`);
  return JSON.parse(line.slice(instruction.length + 1)) as string[];
}

describe("runtime/Dockerfile", () => {
  it("pins every base image by digest and never uses latest", () => {
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const from of froms) {
      const image = from.split(/\s+/)[1] ?? "";
      expect(image, from).toMatch(/@sha256:[0-9a-f]{64}$/);
      expect(image, from).not.toMatch(/:latest\b/);
    }
  });

  it("runs the final stage as a non-root user", () => {
    const users = lastStage.filter((l) => l.startsWith("USER "));
    expect(users.length).toBeGreaterThan(0);
    const user = (users[users.length - 1] ?? "").slice(5).split(":")[0] ?? "";
    expect(["", "0", "root"]).not.toContain(user);
  });

  it("installs production dependencies only, from the lockfile, for the runtime stage", () => {
    const copiedModules = lastStage.find((l) => l.startsWith("COPY ") && l.includes("node_modules"));
    const from = /--from=(\S+)/.exec(copiedModules ?? "")?.[1] ?? "";
    const install = stage(from).find((l) => l.startsWith("RUN ") && l.includes("npm "));
    expect(install).toMatch(/npm ci\b/);
    expect(install).toMatch(/--omit=dev/);
    expect(lastStage.some((l) => /npm (install|ci)/.test(l))).toBe(false);
  });

  it("runs the build (npm run build: dist/runtime/tollgate.mjs) with the mounted bundle and values, on all interfaces", () => {
    const command = [...jsonArray("ENTRYPOINT"), ...jsonArray("CMD")];
    expect(command.slice(0, 3)).toEqual(["/nodejs/bin/node", "dist/runtime/tollgate.mjs", "serve"]);
    const arg = (flag: string) => command[command.indexOf(flag) + 1];
    expect(arg("--bundle")).toBe("/etc/tollgate/bundle.json");
    expect(arg("--values")).toBe("/etc/tollgate/values.json");
    expect(arg("--host")).toBe("0.0.0.0");
  });

  it("builds from the sources the build script needs, and the build context admits them", () => {
    const copiedBuild = lastStage.find((l) => l.startsWith("COPY ") && l.includes("dist/runtime"));
    const from = /--from=(\S+)/.exec(copiedBuild ?? "")?.[1] ?? "";
    const build = stage(from);
    expect(build.some((l) => l === "RUN npm run build")).toBe(true);
    const copied = build.filter((l) => l.startsWith("COPY ")).flatMap((l) => l.split(/\s+/).slice(1, -1));
    for (const needed of ["policies", "runtime", "scripts/build-runtime.ts", "tsconfig.json", "package.json"])
      expect(copied).toContain(needed);
    const ignore = readFileSync(join(ROOT, ".dockerignore"), "utf8")
      .split("\n")
      .map((l) => l.trim());
    expect(ignore[ignore.findIndex((l) => l && !l.startsWith("#"))]).toBe("*");
    for (const needed of [
      "policies/",
      "runtime/",
      "scripts/build-runtime.ts",
      "tsconfig.json",
      "package.json",
      "package-lock.json",
    ])
      expect(ignore).toContain(`!${needed}`);
  });

  it("everything runtime/ and policies/ import is a production dependency the image keeps (no devDependencies, no cdktf)", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    const production = new Set(Object.keys(pkg.dependencies));
    const builtins = new Set(builtinModules);
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => {
        const full = join(dir, name);
        return statSync(full).isDirectory() ? files(full) : /\.(ts|mjs)$/.test(name) ? [full] : [];
      });
    const pruned = new Set(
      [...dockerfile.matchAll(/rm -rf ([^&\n]+)/g)]
        .flatMap((m) => (m[1] ?? "").trim().split(/\s+/))
        .filter((p) => p.startsWith("node_modules/"))
        .map((p) => p.slice("node_modules/".length)),
    );
    expect(pruned.size).toBeGreaterThan(0);
    const missing: string[] = [];
    for (const file of [...files(join(ROOT, "runtime")), ...files(join(ROOT, "policies"))]) {
      const source = readFileSync(file, "utf8");
      for (const match of source.matchAll(
        /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g,
      )) {
        const specifier = match[1] ?? match[2] ?? "";
        if (specifier.startsWith(".") || specifier.startsWith("node:") || builtins.has(specifier)) continue;
        if (/^import\s+type\s/.test(match[0].trim())) continue;
        const name = specifier.startsWith("@")
          ? specifier.split("/").slice(0, 2).join("/")
          : (specifier.split("/")[0] ?? "");
        if (!production.has(name) || pruned.has(name) || pruned.has(name.split("/")[0] ?? ""))
          missing.push(`${file.slice(ROOT.length + 1)}: ${specifier}`);
      }
    }
    expect(
      missing,
      "move these to dependencies (and do not prune them in runtime/Dockerfile), or keep them out of runtime/",
    ).toEqual([]);
  });
});

interface Container {
  args?: string[];
  env?: { name: string; value?: string }[];
  volume_mount?: { name: string; mount_path: string }[];
}

describe("runtime/Dockerfile and the GatewayDeployment of the synthesized dev stack", () => {
  let dir: string;
  let container: Container;
  let volumes: { name: string; config_map?: { name: string } }[];
  let configMapKeys: string[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tollgate-image-"));
    await synthesize(join(dir, "cdktf.out"));
    const stack = await findStack(join(dir, "cdktf.out"));
    const resources = (
      JSON.parse(readFileSync(stack.cdkTfJsonPath, "utf8")) as {
        resource: Record<string, Record<string, Record<string, unknown>>>;
      }
    ).resource;
    const deployment = Object.values(resources.kubernetes_deployment ?? {})[0] as {
      spec: { template: { spec: { container: Container[]; volume: typeof volumes } } };
    };
    container = deployment.spec.template.spec.container[0] as Container;
    volumes = deployment.spec.template.spec.volume;
    configMapKeys = Object.keys(
      (Object.values(resources.kubernetes_config_map ?? {})[0] as { data: Record<string, string> }).data,
    );
  }, 120_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("the Deployment's args, run by the image's entrypoint, read bundle.json and values.json from the mounted ConfigMap", () => {
    const args = container.args ?? jsonArray("CMD");
    expect(args[0]).toBe("serve");
    const bundleFile = args[args.indexOf("--bundle") + 1] ?? "";
    const valuesFile = args[args.indexOf("--values") + 1] ?? "";
    const configVolume = volumes.find((v) => v.config_map)?.name;
    const mount = container.volume_mount?.find((m) => m.name === configVolume)?.mount_path;
    expect(mount).toBeDefined();
    expect(bundleFile).toBe(`${mount}/bundle.json`);
    expect(valuesFile).toBe(`${mount}/values.json`);
    expect(configMapKeys).toEqual(expect.arrayContaining(["bundle.json", "values.json"]));
    // The image's default command says the same, for `docker run` without Kubernetes.
    const cmd = jsonArray("CMD");
    expect(cmd[cmd.indexOf("--bundle") + 1]).toBe(bundleFile);
    expect(cmd[cmd.indexOf("--values") + 1]).toBe(valuesFile);
  });

  it("the gateway in the pod listens beyond loopback, so the Service and the probes reach it", () => {
    const args = container.args ?? [];
    const hostArg = args.includes("--host") ? args[args.indexOf("--host") + 1] : undefined;
    const serveSource = readFileSync(join(ROOT, "runtime/cli/serve.ts"), "utf8");
    const imageHost = /ENV\s+HOST=(\S+)/.exec(dockerfile)?.[1];
    const hostFromEnv = /env\.HOST|env\[["']HOST["']\]/.test(serveSource)
      ? (container.env?.find((e) => e.name === "HOST")?.value ?? imageHost)
      : undefined;
    const effective = hostArg ?? hostFromEnv ?? "127.0.0.1";
    expect(
      ["0.0.0.0", "::"],
      "add --host 0.0.0.0 to the Deployment args, or let `tollgate serve` default to $HOST",
    ).toContain(effective);
  });
});

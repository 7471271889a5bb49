/**
 * The gateway image, built by replaying runtime/Dockerfile without Docker (dockerfile-image.ts): its
 * packages, the build it runs and the command it starts are checked by running them, and its command is
 * checked against what the Kubernetes Deployment mounts.
 */
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findStack, synthesize } from "../../examples/local-platform/synth.js";
import { placeholder, withDigest } from "../../policies/bundle/index.js";
import { authTestBundle, freePort } from "../support/gateway.js";
import { type BuiltImage, ROOT, buildImage, execForm, parseDockerfile, removeInImage } from "./dockerfile-image.js";

const stages = parseDockerfile();
const runtimeStage = stages.at(-1)!;
const dockerfile = readFileSync(join(ROOT, "runtime/Dockerfile"), "utf8");
const jsonArray = (keyword: "ENTRYPOINT" | "CMD") => execForm(runtimeStage, keyword);

describe("runtime/Dockerfile, as written", () => {
  it("pins every base image by digest and never uses latest", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const { image } of stages) {
      expect(image).toMatch(/@sha256:[0-9a-f]{64}$/);
      expect(image).not.toMatch(/:latest\b/);
    }
  });

  it("runs on the Node major version the project is built and tested with", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      devDependencies: Record<string, string>;
    };
    const major = /\d+/.exec(pkg.devDependencies.node ?? "")?.[0];
    expect(major).toBe(process.versions.node.split(".")[0]);
    for (const { image } of stages) expect(image).toMatch(new RegExp(`^[^@]*node(?:js)?:?${major}\\b`));
  });
});

/** Package names under a node_modules directory (`@scope/name` for scoped ones). */
function packagesIn(nodeModules: string): string[] {
  return readdirSync(nodeModules)
    .filter((n) => !n.startsWith("."))
    .flatMap((n) => (n.startsWith("@") ? readdirSync(join(nodeModules, n)).map((m) => `${n}/${m}`) : [n]));
}

/** Bare specifiers the built gateway imports (esbuild keeps every dependency external). */
function externalImports(distDir: string): string[] {
  const specifiers = new Set<string>();
  for (const file of readdirSync(distDir).filter((f) => f.endsWith(".mjs"))) {
    const code = readFileSync(join(distDir, file), "utf8");
    const statements =
      /^\s*(?:import|export)\b[^;]*?\bfrom\s*"([^"]+)"|^\s*import\s*"([^"]+)"|\bimport\(\s*"([^"]+)"\s*\)/gm;
    for (const m of code.matchAll(statements)) {
      const specifier = m[1] ?? m[2] ?? m[3] ?? "";
      if (/^[@a-z]/.test(specifier) && !specifier.startsWith("node:")) specifiers.add(specifier);
    }
  }
  return [...specifiers].sort();
}

describe("the image runtime/Dockerfile builds", () => {
  let dir: string;
  let image: BuiltImage;
  let app: string;
  const node = (args: string[], cwd: string) =>
    spawn(process.execPath, ["--preserve-symlinks", ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? "", ...image.env },
      stdio: ["ignore", "pipe", "pipe"],
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tollgate-image-"));
    image = buildImage(dir);
    app = image.workdir;
  }, 120_000);

  afterAll(() => {
    if (dir) removeInImage(dir);
  });

  it("runs as a non-root user", () => {
    expect(["", "0", "root", undefined]).not.toContain(image.user?.split(":")[0]);
  });

  it("holds the runtime's production dependencies only: no devDependency, no construct library, no tsx", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    const installed = packagesIn(join(app, "node_modules"));
    expect(installed.filter((p) => p in pkg.devDependencies)).toEqual([]);
    for (const absent of ["cdktf", "constructs", "@cdktf/provider-aws", "tsx", "esbuild"])
      expect(installed, absent).not.toContain(absent);
    expect(installed).toEqual(expect.arrayContaining(["jose", "zod", "undici", "pino"]));
  });

  it("loads every package the built gateway imports from inside the image", async () => {
    const dist = join(app, "dist/runtime");
    const specifiers = externalImports(dist);
    expect(specifiers).toEqual(expect.arrayContaining(["jose", "zod"]));
    // A probe next to the gateway's chunks imports each one the way the chunks do.
    await writeFile(
      join(dist, "probe-imports.mjs"),
      `const failed = [];
for (const s of ${JSON.stringify(specifiers)}) await import(s).catch((e) => failed.push(s + ": " + e.message.split("\\n")[0]));
console.log(JSON.stringify(failed));`,
    );
    const child = node(["probe-imports.mjs"], dist);
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const code = await new Promise((r) => child.once("exit", r));
    expect(err).toBe("");
    expect(code).toBe(0);
    expect(JSON.parse(out), "move these to dependencies, or stop pruning them in runtime/Dockerfile").toEqual([]);
  }, 60_000);

  it("its ENTRYPOINT and CMD serve the mounted bundle and values, with metrics on the bundle's admin port", async () => {
    const entrypoint = jsonArray("ENTRYPOINT");
    const cmd = jsonArray("CMD");
    // distroless keeps node at /nodejs/bin/node; here it is this process's node.
    expect(entrypoint[0]).toBe("/nodejs/bin/node");
    expect(existsSync(join(app, entrypoint.at(-1) ?? ""))).toBe(true);
    // Node options before the script: this Node must accept them (the process below would not start).
    // What the ConfigMap mounts: the bundle with an apply-time placeholder, and values.json resolving it.
    const mount = join(dir, "mount");
    await mkdir(mount);
    const port = await freePort();
    const metricsPort = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const issuer = `http://127.0.0.1:${await freePort()}/oauth2/default`;
    const bundle = authTestBundle(placeholder("okta.issuer"), url);
    bundle.protectedResource.authorizationServers = [placeholder("okta.issuer")];
    bundle.telemetry = { metrics: { enabled: true, port: metricsPort } };
    const mounted = (file: string) => file.replace(/^\/etc\/tollgate\//, `${mount}/`);
    const args = cmd.map(mounted);
    await writeFile(args[args.indexOf("--bundle") + 1]!, JSON.stringify(withDigest(bundle)));
    await writeFile(args[args.indexOf("--values") + 1]!, JSON.stringify({ "okta.issuer": issuer }));
    // Tests bind loopback on a free port; the image's own --host and --port are checked against the Deployment below.
    args[args.indexOf("--host") + 1] = "127.0.0.1";
    args[args.indexOf("--port") + 1] = String(port);

    const child: ChildProcessByStdio<null, Readable, Readable> = node([...entrypoint.slice(1), ...args], app);
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    // Bounded, so a command that hangs fails with its output rather than the test timeout.
    const started = await new Promise<string>((resolvePromise) => {
      const timer = setTimeout(() => resolvePromise("did not start within 20 s"), 20_000);
      child.stderr.on("data", () => stderr.includes("metrics on") && resolvePromise("started"));
      void exited.then((code) => resolvePromise(`exited (${code})`));
      void exited.then(() => clearTimeout(timer));
    });
    try {
      expect(started, stderr).toBe("started");
      expect(stderr).toContain(`listening on ${url}`);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const metadata = (await (await fetch(`${url}/.well-known/oauth-protected-resource`)).json()) as {
        resource: string;
        authorization_servers: string[];
      };
      expect(metadata).toMatchObject({ resource: `${url}/mcp`, authorization_servers: [issuer] });
      expect(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()).toContain("# TYPE");
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    }
    expect(await exited, stderr).toBe(0);
  }, 60_000);
});

interface Container {
  args?: string[];
  env?: { name: string; value?: string }[];
  volume_mount?: { name: string; mount_path: string }[];
}

describe("the image's command and the GatewayDeployment of the synthesized dev stack", () => {
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

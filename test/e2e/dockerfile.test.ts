/**
 * Static checks of the gateway image (no Docker engine here): pinned bases, non-root, production
 * dependencies only, and a command that reads what the Kubernetes construct mounts.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { builtinModules } from "node:module";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const dockerfile = readFileSync(join(ROOT, "runtime/Dockerfile"), "utf8");
const instructions = dockerfile
  .replace(/\\\n/g, " ")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith("#"));
const froms = instructions.filter((l) => /^FROM\s/i.test(l));
const lastStage = instructions.slice(instructions.lastIndexOf(froms[froms.length - 1] ?? ""));

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

  it("installs production dependencies only, from the lockfile", () => {
    const install = instructions.find((l) => l.startsWith("RUN ") && l.includes("npm "));
    expect(install).toMatch(/npm ci\b/);
    expect(install).toMatch(/--omit=dev/);
    expect(lastStage.some((l) => /npm (install|ci)/.test(l))).toBe(false);
  });

  it("serves the bundle and values from where the ConfigMap is mounted, on all interfaces", () => {
    const command = [...jsonArray("ENTRYPOINT"), ...jsonArray("CMD")];
    expect(command.slice(0, 3)).toEqual(["/nodejs/bin/node", "bin/tollgate.mjs", "serve"]);
    const arg = (flag: string) => command[command.indexOf(flag) + 1];
    expect(arg("--bundle")).toBe("/etc/tollgate/bundle.json");
    expect(arg("--values")).toBe("/etc/tollgate/values.json");
    expect(arg("--host")).toBe("0.0.0.0");
  });

  it("copies every directory the runtime loads and the build context admits them", () => {
    const copied = lastStage.filter((l) => l.startsWith("COPY ") && !l.includes("--from=")).flatMap((l) => l.split(/\s+/).slice(1, -1)).filter((a) => !a.startsWith("--"));
    for (const needed of ["bin", "policies", "runtime", "package.json"]) expect(copied).toContain(needed);
    const ignore = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n").map((l) => l.trim());
    expect(ignore[ignore.findIndex((l) => l && !l.startsWith("#"))]).toBe("*");
    for (const needed of ["bin/", "policies/", "runtime/", "package.json", "package-lock.json"]) expect(ignore).toContain(`!${needed}`);
  });

  it("everything runtime/ and policies/ import is a production dependency (the image has no devDependencies)", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    const production = new Set(Object.keys(pkg.dependencies));
    const builtins = new Set(builtinModules);
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => {
        const full = join(dir, name);
        return statSync(full).isDirectory() ? files(full) : /\.(ts|mjs)$/.test(name) ? [full] : [];
      });
    const missing: string[] = [];
    for (const file of [...files(join(ROOT, "runtime")), ...files(join(ROOT, "policies")), join(ROOT, "bin/tollgate.mjs")]) {
      const source = readFileSync(file, "utf8");
      for (const match of source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)) {
        const specifier = match[1] ?? match[2] ?? "";
        if (specifier.startsWith(".") || specifier.startsWith("node:") || builtins.has(specifier)) continue;
        if (/^import\s+type\s/.test(match[0].trim())) continue;
        const name = specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : (specifier.split("/")[0] ?? "");
        if (!production.has(name)) missing.push(`${file.slice(ROOT.length + 1)}: ${specifier}`);
      }
    }
    expect(missing, "move these to dependencies, or keep them out of runtime/").toEqual([]);
  });
});

/**
 * runtime/Dockerfile carried out without Docker (there is no engine here): each stage's instructions are
 * read from the Dockerfile and replayed on a directory that stands for the stage's filesystem, so the
 * test sees the image the Dockerfile would build, not the Dockerfile's text.
 *
 * - `COPY` from the build context copies what .dockerignore admits; `COPY --from=<stage>` copies from that
 *   stage's directory. Ownership (`--chown`) is not replayed.
 * - `RUN npm ci` links the packages the lockfile installs (all, or without dev ones for `--omit=dev`)
 *   from this checkout's node_modules; `RUN npm run <script>` runs the package.json script in the stage;
 *   `rm -rf` removes; `npm cache clean` has nothing to do. Any other `RUN` is an error naming it, so a
 *   Dockerfile change that this replay does not understand fails loudly instead of being skipped.
 * - The image's node (`/nodejs/bin/node` in distroless) is this process's node, run with
 *   `--preserve-symlinks` so that a linked package resolves its dependencies inside the image, as it
 *   would in the real one.
 */
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
} from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../..");
export const DOCKERFILE = join(ROOT, "runtime/Dockerfile");

export interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

export interface Stage {
  readonly name: string;
  readonly image: string;
  readonly instructions: readonly Instruction[];
}

/** The Dockerfile's stages, in order, with continuation lines joined and comments dropped. */
export function parseDockerfile(text = readFileSync(DOCKERFILE, "utf8")): Stage[] {
  const lines = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const stages: { name: string; image: string; instructions: Instruction[] }[] = [];
  for (const line of lines) {
    const [, keyword = "", args = ""] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (keyword.toUpperCase() === "FROM") {
      const [image = "", , name] = args.split(/\s+/);
      stages.push({ name: name ?? String(stages.length), image, instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`runtime/Dockerfile: ${keyword} before any FROM`);
      stage.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return stages;
}

/** The JSON-array (exec form) argument of the last `keyword` of a stage. */
export function execForm(stage: Stage, keyword: "ENTRYPOINT" | "CMD"): string[] {
  const found = stage.instructions.filter((i) => i.keyword === keyword).at(-1);
  if (!found) throw new Error(`runtime/Dockerfile: no ${keyword} in stage ${stage.name}`);
  return JSON.parse(found.args) as string[];
}

/** .dockerignore as Docker reads it: the last matching line decides; a line matches a path or any parent. */
function contextFilter(): (path: string) => boolean {
  const rules = readFileSync(join(ROOT, ".dockerignore"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"))
    .map((line) => {
      const negated = line.startsWith("!");
      const glob = (negated ? line.slice(1) : line).replace(/\/+$/, "");
      const body = glob
        .split(/(\*\*\/|\*\*|\*|\?)/)
        .map((part) =>
          part === "**/"
            ? "(?:.*/)?"
            : part === "**"
              ? ".*"
              : part === "*"
                ? "[^/]*"
                : part === "?"
                  ? "[^/]"
                  : part.replace(/[.+^${}()|[\]\\]/g, "\\$&"),
        )
        .join("");
      return { negated, regex: new RegExp(`^${body}$`) };
    });
  return (path) => {
    const parts = path.split("/");
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
    let admitted = true;
    for (const rule of rules) if (candidates.some((c) => rule.regex.test(c))) admitted = rule.negated;
    return admitted;
  };
}

/** Removes `path` without ever following a symbolic link out of the image directory. */
export function removeInImage(path: string): void {
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    return;
  }
  if (stat.isDirectory()) {
    for (const name of readdirSync(path)) removeInImage(join(path, name));
    rmdirSync(path);
  } else {
    unlinkSync(path);
  }
}

interface PackageLock {
  packages: Record<string, { dev?: boolean; devOptional?: boolean }>;
}

/** `npm ci [--omit=dev]` in `dir`: links every top-level package the lockfile installs from this checkout. */
function npmCi(dir: string, omitDev: boolean): void {
  const lock = JSON.parse(readFileSync(join(dir, "package-lock.json"), "utf8")) as PackageLock;
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (!path.startsWith("node_modules/") || path.lastIndexOf("node_modules/") !== 0) continue;
    if (omitDev && (entry.dev || entry.devOptional)) continue;
    const installed = join(ROOT, path);
    if (!existsSync(installed)) continue; // an optional package for another platform
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    symlinkSync(installed, join(dir, path));
  }
}

function run(command: string, cwd: string, stageName: string): void {
  for (const step of command.split("&&").map((s) => s.trim())) {
    const words = step.split(/\s+/);
    if (words[0] === "npm" && words[1] === "ci") npmCi(cwd, words.includes("--omit=dev"));
    else if (words[0] === "npm" && words[1] === "cache") continue;
    else if (words[0] === "rm" && words[1] === "-rf") for (const p of words.slice(2)) removeInImage(join(cwd, p));
    else if (words[0] === "npm" && words[1] === "run" && words[2]) {
      const pkg = JSON.parse(readFileSync(join(cwd, "package.json"), "utf8")) as { scripts: Record<string, string> };
      const script = pkg.scripts[words[2]];
      if (!script?.startsWith("node ")) throw new Error(`cannot replay npm run ${words[2]}: "${script}"`);
      const result = spawnSync(process.execPath, script.split(/\s+/).slice(1), { cwd, encoding: "utf8" });
      if (result.status !== 0)
        throw new Error(`stage ${stageName}: RUN ${step} failed (${result.status}):\n${result.stderr}${result.stdout}`);
    } else
      throw new Error(
        `stage ${stageName}: the image replay does not know how to RUN "${step}": teach dockerfile-image.ts`,
      );
  }
}

/** The files of the build context that `source` (a COPY source) names and .dockerignore admits. */
function contextFiles(source: string, admitted: (path: string) => boolean): string[] {
  const walk = (path: string): string[] =>
    lstatSync(join(ROOT, path)).isDirectory()
      ? readdirSync(join(ROOT, path)).flatMap((name) => walk(`${path}/${name}`))
      : [path];
  if (!existsSync(join(ROOT, source))) return [];
  return walk(source).filter(admitted);
}

export interface BuiltImage {
  /** The directory that stands for the final stage's filesystem root. */
  readonly root: string;
  readonly stage: Stage;
  /** WORKDIR of the final stage, inside `root`. */
  readonly workdir: string;
  readonly env: Readonly<Record<string, string>>;
  readonly user: string | undefined;
}

/** Replays every stage of runtime/Dockerfile under `dir`; returns the final stage's image. */
export function buildImage(dir: string): BuiltImage {
  const stages = parseDockerfile();
  const admitted = contextFilter();
  const roots = new Map<string, string>();
  let last: BuiltImage | undefined;
  for (const stage of stages) {
    const root = join(dir, stage.name);
    mkdirSync(root, { recursive: true });
    roots.set(stage.name, root);
    let workdir = root;
    const env: Record<string, string> = {};
    let user: string | undefined;
    for (const { keyword, args } of stage.instructions) {
      if (keyword === "WORKDIR") mkdirSync((workdir = join(root, args)), { recursive: true });
      else if (keyword === "ENV") {
        const [key = "", ...value] = args.split("=");
        env[key] = value.join("=");
      } else if (keyword === "USER") user = args;
      else if (keyword === "RUN") run(args, workdir, stage.name);
      else if (keyword === "COPY") {
        const words = args.split(/\s+/);
        const from = words.find((w) => w.startsWith("--from="))?.slice("--from=".length);
        const [dest = ".", ...sources] = words.filter((w) => !w.startsWith("--")).reverse();
        const target = resolve(workdir, dest);
        const intoDir = dest.endsWith("/") || sources.length > 1;
        for (const source of sources.reverse()) {
          if (from !== undefined) {
            const fromRoot = roots.get(from);
            if (!fromRoot) throw new Error(`stage ${stage.name}: COPY --from=${from}: no such stage before it`);
            cpSync(join(fromRoot, source), intoDir ? join(target, basename(source)) : target, {
              recursive: true,
              verbatimSymlinks: true,
            });
            continue;
          }
          const files = contextFiles(source, admitted);
          if (files.length === 0) throw new Error(`stage ${stage.name}: COPY ${source}: nothing in the build context`);
          const isDir = lstatSync(join(ROOT, source)).isDirectory();
          for (const file of files) {
            const out = isDir ? join(target, relative(source, file)) : intoDir ? join(target, basename(file)) : target;
            mkdirSync(dirname(out), { recursive: true });
            copyFileSync(join(ROOT, file), out);
          }
        }
      }
      // FROM's base image contents, EXPOSE, ENTRYPOINT and CMD change no file.
    }
    last = { root, stage, workdir, env, user };
  }
  if (!last) throw new Error("runtime/Dockerfile has no stage");
  return last;
}

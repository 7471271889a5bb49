/**
 * Tollgate as a platform team gets it: `npm pack`, a fresh cdktf app outside this repository, the app's own
 * compiler settings, plain `node` to synthesize. Three shapes: the tarball under an ESM app (NodeNext), the
 * tarball under the `cdktf init` TypeScript template's CommonJS tsconfig, and a linked checkout
 * (`npm install <path>`: a symlink, so Tollgate loads this repository's cdktf while the app loads its own).
 * The app is the README's ("Use Tollgate in your own cdktf app"), copied as a reader would. In each shape it
 * synthesizes and writes the gateway bundle, and the same app with an unauthenticated route fails synth
 * with TG-AUTH-001.
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
/** The stack id of the README's app. */
const STACK = "platform";
const README_SECTION = "Use Tollgate in your own cdktf app";

/** The version of `name` this repository develops and tests against. */
function testedVersion(name: string): string {
  return (JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string })
    .version;
}

/**
 * What a platform team installs beside Tollgate, at the versions tested here: its peers, the Okta provider
 * for its own provider block (the version Tollgate pins), a compiler.
 */
const APP_DEPENDENCIES = ["cdktf", "constructs", "@cdktf/provider-okta", "typescript", "@types/node"].map(
  (n) => `${n}@${testedVersion(n)}`,
);

/** A typical ESM app's settings. */
const NODENEXT_TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    skipLibCheck: true,
    types: ["node"],
  },
  include: ["*.ts"],
};

/** Exactly what `cdktf init --template=typescript` writes (CommonJS, moduleResolution node10, lib es2018). */
const CDKTF_INIT_TSCONFIG = readFileSync(
  join(ROOT, "node_modules/cdktf-cli/bundle/templates/typescript/tsconfig.json"),
  "utf8",
);

const ENV = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ""}` };

interface Ran {
  readonly status: number | null;
  readonly output: string;
}

/** Runs with this test's Node 22 first on PATH (npm scripts, `#!/usr/bin/env node`), never the machine's default. */
function run(command: string, args: readonly string[], cwd: string): Promise<Ran> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd, env: ENV, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", fail);
    child.on("close", (status) => done({ status, output }));
  });
}

async function mustRun(command: string, args: readonly string[], cwd: string): Promise<string> {
  const result = await run(command, args, cwd);
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(" ")} (in ${cwd}) exited ${result.status}:\n${result.output}`);
  return result.output;
}

/** A directory with its own package.json and node_modules, as `npm init` and `npm install` leave it. */
async function installProject(dir: string, tollgate: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "platform-infra", private: true }, null, 2));
  const install = ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"];
  await mustRun("npm", [...install, tollgate, ...APP_DEPENDENCIES], dir);
}

/** The app the README gives a platform team: the ```ts block of its section, exactly as a reader copies it. */
function readmeApp(): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.split(/^## /m).find((part) => part.startsWith(`${README_SECTION}\n`));
  const code = section?.match(/^```ts\n([\s\S]*?)^```/m)?.[1];
  if (code === undefined)
    throw new Error(`README.md: the section "## ${README_SECTION}" must show its app in a \`\`\`ts block`);
  return code;
}

/** The same app with the mistake TG-AUTH-001 must catch: its route does not require authentication. */
function withUnauthenticatedRoute(app: string): string {
  const route = 'pathPrefix: "/anthropic",';
  if (!app.includes(route)) throw new Error(`README.md's app has no ${route} route to make the mistake on`);
  return app.replace(route, `${route} requireAuthentication: false,`);
}

/**
 * An app in a directory of an installed project: the README's app as main.ts, the same with the mistake as
 * unauthenticated.ts, a package.json and a tsconfig.
 */
function writeApp(dir: string, type: "module" | "commonjs", tsconfig: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "main.ts"), readmeApp());
  writeFileSync(join(dir, "unauthenticated.ts"), withUnauthenticatedRoute(readmeApp()));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ private: true, type, main: "main.js" }, null, 2));
  writeFileSync(join(dir, "tsconfig.json"), tsconfig);
}

interface ConsumerApp {
  readonly name: string;
  /** Relative to the work directory: `<project>/<app>`. */
  readonly path: string;
  readonly type: "module" | "commonjs";
  readonly tsconfig: string;
}

const APPS: readonly ConsumerApp[] = [
  {
    name: "tarball, ESM app (module/moduleResolution NodeNext)",
    path: "tarball/esm",
    type: "module",
    tsconfig: JSON.stringify(NODENEXT_TSCONFIG, null, 2),
  },
  {
    name: "tarball, the cdktf init template's tsconfig (CommonJS)",
    path: "tarball/cdktf-init",
    type: "commonjs",
    tsconfig: CDKTF_INIT_TSCONFIG,
  },
  {
    name: "linked checkout (npm install <path>), ESM app",
    path: "linked/esm",
    type: "module",
    tsconfig: JSON.stringify(NODENEXT_TSCONFIG, null, 2),
  },
];

/** What one app did: compiled, then synthesized with the mistake and without it. */
interface AppRun {
  readonly dir: string;
  readonly unauthenticated: Ran;
  readonly clean: Ran;
}

/**
 * tmpfs when the machine has one: the provider bindings are hundreds of megabytes in tens of thousands of files,
 * slow to write and to remove on disk. Either way the directory is outside the repository, so nothing
 * resolves from the repository's node_modules.
 */
function scratchDirectory(): string {
  try {
    const shm = statfsSync("/dev/shm");
    if (shm.bavail * shm.bsize > 4 * 2 ** 30) return "/dev/shm";
  } catch {
    // no tmpfs: the system's temporary directory
  }
  return tmpdir();
}

/** Compiles the app with its own compiler and tsconfig, then synthesizes it with plain node. */
async function buildAndSynth(app: ConsumerApp): Promise<AppRun> {
  const dir = join(work, app.path);
  writeApp(dir, app.type, app.tsconfig);
  await mustRun(process.execPath, [join(dir, "..", "node_modules/typescript/bin/tsc"), "-p", "."], dir);
  const unauthenticated = await run(process.execPath, ["unauthenticated.js"], dir);
  rmSync(join(dir, "cdktf.out"), { recursive: true, force: true });
  const clean = await run(process.execPath, ["main.js"], dir);
  return { dir, unauthenticated, clean };
}

let work: string;
let tarball: string;
const runs = new Map<ConsumerApp, AppRun>();

beforeAll(async () => {
  work = mkdtempSync(join(scratchDirectory(), "tollgate-consumer-"));
  // prepack builds dist/, which the linked checkout uses too
  const packed = mustRun("npm", ["pack", "--pack-destination", work], ROOT).then(() => {
    const files = readdirSync(work).filter((f) => f.endsWith(".tgz"));
    expect(files).toHaveLength(1);
    tarball = join(work, files[0] as string);
  });
  const linked = installProject(join(work, "linked"), ROOT);
  const tarballInstalled = packed.then(() => installProject(join(work, "tarball"), tarball));
  await Promise.all(
    APPS.map(async (app) => {
      await (app.path.startsWith("linked/") ? Promise.all([packed, linked]) : tarballInstalled);
      runs.set(app, await buildAndSynth(app));
    }),
  );
}, 600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
}, 120_000);

describe("the package", () => {
  it("holds the compiled library, the CLI and the documents, and none of the repository's sources, tests or CI", async () => {
    const files = (await mustRun("tar", ["-tzf", tarball], work))
      .split("\n")
      .filter(Boolean)
      .map((f) => f.replace(/^package\//, ""));
    for (const entry of [
      "dist/constructs/index.js",
      "dist/constructs/index.d.ts",
      "dist/policies/index.js",
      "dist/policies/index.d.ts",
      "dist/runtime/tollgate.mjs",
      "bin/tollgate.mjs",
      "README.md",
      "CHANGELOG.md",
      "LICENSE",
      "docs/review.md",
    ])
      expect(files).toContain(entry);
    const unexpected = files.filter(
      (f) =>
        !/^(dist\/(constructs|policies|runtime)\/|bin\/)/.test(f) &&
        !/^(package\.json|README\.md|CHANGELOG\.md|LICENSE|docs\/[a-z-]+\.md)$/.test(f),
    );
    expect(unexpected).toEqual([]);
    expect(files.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))).toEqual([]);
  });

  it("uses the app's cdktf and constructs (peer dependencies) and brings no tsx", () => {
    const project = join(work, "tarball");
    for (const name of ["tollgate/node_modules/cdktf", "tollgate/node_modules/constructs", "tsx"])
      expect(existsSync(join(project, "node_modules", name)), name).toBe(false);
  });

  it("loads every module its exports map names with plain node, by import and by require", async () => {
    const project = join(work, "tarball");
    const manifest = JSON.parse(readFileSync(join(project, "node_modules/tollgate/package.json"), "utf8")) as {
      version: string;
      exports: Record<string, unknown>;
    };
    const modules = Object.keys(manifest.exports)
      .filter((subpath) => subpath !== "./package.json")
      .map((subpath) => `tollgate${subpath.slice(1)}`);
    expect(modules).toEqual(["tollgate/constructs", "tollgate/policies"]);
    writeFileSync(
      join(project, "load-exports.mjs"),
      [
        'import { createRequire } from "node:module";',
        "const require = createRequire(import.meta.url);",
        `for (const specifier of ${JSON.stringify(modules)}) {`,
        "  const imported = Object.keys(await import(specifier));",
        "  const required = Object.keys(require(specifier));",
        "  if (imported.length === 0 || imported.join() !== required.join()) throw new Error(`${specifier}: ${imported} / ${required}`);",
        "}",
        'console.log(require("tollgate/package.json").version);',
      ].join("\n"),
    );
    const loaded = await run(process.execPath, ["load-exports.mjs"], project);
    expect(loaded.status, loaded.output).toBe(0);
    expect(loaded.output.trim()).toBe(manifest.version);
  });
});

describe("the linked checkout", () => {
  it("loads this repository's cdktf while the app loads its own: two copies, as in a workspace", () => {
    const project = join(work, "linked");
    const tollgate = realpathSync(join(project, "node_modules/tollgate"));
    expect(tollgate).toBe(realpathSync(ROOT));
    const fromApp = createRequire(join(project, "esm", "main.js")).resolve("cdktf");
    const fromTollgate = createRequire(join(tollgate, "dist/constructs/index.js")).resolve("cdktf");
    expect(fromTollgate).not.toBe(fromApp);
  });
});

describe.each(APPS)("a platform team's app: $name", (app) => {
  const result = () => runs.get(app) as AppRun;
  const bundleFile = () => join(result().dir, "cdktf.out", "stacks", STACK, "gateway.bundle.json");

  it("synthesizes with plain node and writes the gateway bundle next to cdk.tf.json", () => {
    const { clean, dir } = result();
    expect(clean.status, clean.output).toBe(0);
    expect(existsSync(join(dir, "cdktf.out", "stacks", STACK, "cdk.tf.json"))).toBe(true);
    const bundle = JSON.parse(readFileSync(bundleFile(), "utf8")) as {
      server: { publicUrl: string };
      auth: { issuer: string; audiences: string[] };
      llm: { routes: { id: string }[] };
    };
    expect(bundle.server.publicUrl).toBe("https://agents.platform.acme.example");
    expect(bundle.auth).toMatchObject({
      issuer: "https://acme.okta.com/oauth2/aus1acmeplatform",
      audiences: ["https://agents.platform.acme.example"],
    });
    expect(bundle.llm.routes.map((r) => r.id)).toEqual(["anthropic"]);
  });

  it("fails synth with TG-AUTH-001 when a route does not require authentication", () => {
    const { unauthenticated } = result();
    expect(unauthenticated.status, unauthenticated.output).not.toBe(0);
    expect(unauthenticated.output).toContain("TG-AUTH-001");
  });

  it("reviews the bundle with the installed tollgate command", async () => {
    const { dir } = result();
    const validate = await run(join(dir, "..", "node_modules/.bin/tollgate"), ["validate", bundleFile()], dir);
    expect(validate.status, validate.output).toBe(0);
  });
});

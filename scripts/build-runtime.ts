/**
 * Builds the gateway for production: `runtime/cli/bin.ts` and everything it imports from runtime/ and
 * policies/, bundled by esbuild into dist/runtime/ (the image runs `dist/runtime/tollgate.mjs`).
 * Dependencies stay external (resolved from node_modules at run time); lazily loaded subcommands become
 * chunks of their own. Unlike running the sources through tsx (what `bin/tollgate.mjs` does for
 * development), the build does not wrap every function in a name-preserving helper, which costs on the
 * request path; and nothing is compiled at start.
 *
 * `npm run build` runs it; the benchmarks build their gateway process the same way ({@link buildGateway}).
 */
import { rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { build } from "esbuild";

const ROOT = resolve(import.meta.dirname, "..");

export interface GatewayBuild {
  /** TypeScript entry points, relative to the repository root: each becomes `<outdir>/<name>.mjs`. */
  readonly entryPoints: Record<string, string>;
  /**
   * Where the files go. Must lie inside the repository, so that the bundle's imports of dependencies
   * resolve from its node_modules. @default dist/runtime
   */
  readonly outdir?: string;
}

/** Bundles the entry points; returns the output directory. */
export async function buildGateway(options: GatewayBuild): Promise<string> {
  const outdir = resolve(ROOT, options.outdir ?? "dist/runtime");
  await rm(outdir, { recursive: true, force: true });
  await build({
    absWorkingDir: ROOT,
    entryPoints: Object.fromEntries(
      Object.entries(options.entryPoints).map(([name, file]) => [name, join(ROOT, file)]),
    ),
    outdir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node22",
    packages: "external",
    keepNames: false,
    minify: false,
    legalComments: "none",
    logLevel: "warning",
  });
  return outdir;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const outdir = await buildGateway({ entryPoints: { tollgate: "runtime/cli/bin.ts" } });
  console.log(`built ${join(outdir, "tollgate.mjs")}`);
}

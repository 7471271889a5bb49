/**
 * `npm run bench`: runs every benchmark under bench/ one after another (never in parallel: they measure
 * the machine), each in its own Node 22 process, and prints what each printed.
 * `npm run bench -- synth mcp` runs only the named ones. `*-child.ts` files are helper processes of a benchmark.
 * Long runs (ON_REQUEST) run only when named: `npm run bench -- soak`.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL(".", import.meta.url));
const wanted = process.argv.slice(2);
/** Benchmarks that take many minutes: not part of a plain `npm run bench`. */
const ON_REQUEST = ["soak"];
const benches = readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && f !== "run-all.ts" && !f.startsWith("_") && !f.endsWith("-child.ts")) // children are helper processes of a benchmark
  .map((f) => f.replace(/\.ts$/, ""))
  .filter((name) => (wanted.length === 0 ? !ON_REQUEST.includes(name) : wanted.includes(name)))
  .sort();

let failed = 0;
for (const name of benches) {
  console.log(`\n=== bench/${name}.ts ===`);
  const run = spawnSync(process.execPath, ["--import", "tsx", `${dir}${name}.ts`], { stdio: "inherit" });
  if (run.status !== 0) {
    failed++;
    console.log(`bench/${name}.ts exited with ${run.status ?? run.signal}`);
  }
}
process.exitCode = failed === 0 ? 0 : 1;

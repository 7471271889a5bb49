#!/usr/bin/env node
// The `tollgate` command. Installed from the package it runs the compiled gateway (dist/runtime/tollgate.mjs,
// built by `npm pack`). In a source checkout, where runtime/ sits next to bin/, it runs the TypeScript sources
// through tsx instead, so no build step stands between an edit and a run, and no stale build is run by mistake.
import { existsSync } from "node:fs";

const sources = new URL("../runtime/cli/main.ts", import.meta.url);

if (existsSync(sources)) {
  const { register } = await import("tsx/esm/api");
  register();
  const { main } = await import(sources.href);
  process.exitCode = await main(process.argv.slice(2));
} else {
  await import("../dist/runtime/tollgate.mjs");
}

/** Every subcommand explains itself: `--help` (usage, flags, exit codes; exit 0), `--version`, and its usage on a bad flag. */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runCli } from "./run-cli.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}/package.json`, "utf8")) as { version: string };

/** Each subcommand and the flags its help must name. */
const COMMANDS: Record<string, { argv: string[]; flags: string[] }> = {
  validate: { argv: ["validate"], flags: ["--values", "--overlay", "--runtime"] },
  schema: { argv: ["schema"], flags: ["--out"] },
  diff: {
    argv: ["diff"],
    flags: ["--format", "--plan", "<stack>=", "--tools", "--fail-on", "widening", "replace", "tamper"],
  },
  serve: {
    argv: ["serve"],
    flags: ["--bundle", "--values", "--overlay", "--host", "--port", "--metrics-port", "--no-watch"],
  },
  keygen: { argv: ["keygen"], flags: ["--out"] },
  dashboards: { argv: ["dashboards"], flags: ["--out"] },
  explain: {
    argv: ["explain"],
    flags: ["--bundle", "--token", "--no-verify", "--claims", "--tool", "--values", "--json"],
  },
  "dev token": { argv: ["dev", "token"], flags: ["--user", "--scopes", "--client", "--agent", "--state", "--json"] },
};

describe("tollgate <command> --help", () => {
  for (const [name, { argv, flags }] of Object.entries(COMMANDS)) {
    it(`${name} --help prints its usage, flags and exit codes and exits 0`, async () => {
      for (const help of ["--help", "-h"]) {
        const run = await runCli([...argv, help]);
        expect(run.code).toBe(0);
        expect(run.stderr).toBe("");
        expect(run.stdout).toMatch(new RegExp(`^usage: tollgate ${name}`));
        expect(run.stdout).toContain("exit codes:");
        for (const flag of flags) expect(run.stdout).toContain(flag);
      }
    });

    it(`${name} answers an unknown flag with its usage and exit 2`, async () => {
      const run = await runCli([...argv, "--frobnicate"]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain("'--frobnicate'");
      expect(run.stderr).toContain(`usage: tollgate ${name}`);
    });
  }

  it("the top-level help names every flag of every command", async () => {
    const run = await runCli(["--help"]);
    expect(run.code).toBe(0);
    for (const { flags } of Object.values(COMMANDS))
      for (const flag of flags.filter((f) => f.startsWith("--"))) expect(run.stdout).toContain(flag);
    expect(run.stdout).toContain("tollgate --version");
  });
});

describe("tollgate --version", () => {
  it("prints the package version, as the installed binary", () => {
    const run = spawnSync(process.execPath, [`${root}/bin/tollgate.mjs`, "--version"], { encoding: "utf8" });
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(`${pkg.version}\n`);
  });
});

/** `tollgate dashboards --out <dir>`: the dashboard and the alert rules as files, identical to what the generator builds. */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { grafanaDashboard, prometheusRule } from "../../runtime/observability/dashboards.js";
import { runCli } from "./run-cli.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "tollgate-dashboards-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("tollgate dashboards", () => {
  it("writes grafana-dashboard.json and prometheus-rules.yaml into a new directory and lists them", async () => {
    const out = join(dir, "observability");
    const run = await runCli(["dashboards", "--out", out]);
    expect(run.code).toBe(0);
    expect(run.stdout.trim().split("\n")).toEqual([
      join(out, "grafana-dashboard.json"),
      join(out, "prometheus-rules.yaml"),
    ]);
    expect(JSON.parse(await readFile(join(out, "grafana-dashboard.json"), "utf8"))).toEqual(grafanaDashboard());
    const rules = parse(await readFile(join(out, "prometheus-rules.yaml"), "utf8")) as unknown;
    expect(rules).toEqual(prometheusRule());
    expect(rules).toMatchObject({ apiVersion: "monitoring.coreos.com/v1", kind: "PrometheusRule" });
  });

  it("says --out is required, with its usage and exit 2", async () => {
    const run = await runCli(["dashboards"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--out <dir> is required");
    expect(run.stderr).toContain("usage: tollgate dashboards");
  });

  it("exits 1 naming the directory when it cannot be created", async () => {
    const blocker = join(dir, "a-file");
    await writeFile(blocker, "not a directory\n");
    const run = await runCli(["dashboards", "--out", join(blocker, "observability")]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`cannot write to ${join(blocker, "observability")}`);
  });

  it("--help prints its usage, the files and exit codes, and the top-level help lists the command", async () => {
    const help = await runCli(["dashboards", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: tollgate dashboards --out <dir>/);
    expect(help.stdout).toContain("prometheus-rules.yaml");
    expect(help.stdout).toContain("exit codes:");
    expect((await runCli(["--help"])).stdout).toContain("dashboards --out <dir>");
  });
});

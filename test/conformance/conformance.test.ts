/**
 * `@modelcontextprotocol/conformance` 0.1.16 (server mode, all active scenarios) against the gateway
 * fronting the project's conformance fixture upstream. The runner has no token option, so a small proxy
 * adds a real bearer token (oidc-provider, scope mcp:read) to every request it forwards.
 *
 * The gateway always namespaces (`conf__test_simple_text`, `tollgate://conf/…` resources), while the
 * scenarios call the fixture's bare names: scenarios that call a tool, prompt or resource by name fail for
 * that reason alone. The test pins the pass count actually reached, so a regression fails it; the
 * per-scenario outcome is printed for the README.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { type IncomingMessage, type ServerResponse, createServer, request as httpRequest } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestPlatform, startTestPlatform } from "../support/gateway";
import { closeServer, listen } from "../runtime/mcp-fixtures";
import { type FixtureServer, startConformanceFixture } from "./fixture-server";

const require = createRequire(import.meta.url);
const CONFORMANCE_BIN = join(require.resolve("@modelcontextprotocol/conformance/package.json"), "..", "dist", "index.js");

/** Scenarios passing in full when this test was written (8 of 30 active); raise it when the gateway improves. */
const MIN_PASSING = 8;

let fixture: FixtureServer;
let platform: TestPlatform;
let proxy: ReturnType<typeof createServer>;
let proxyUrl: string;
let resultsDir: string;

beforeAll(async () => {
  fixture = await startConformanceFixture();
  // The proxy listens first: the runner's localhost Origin (the proxy's address) must be an allowed CORS origin.
  let target: URL | undefined;
  let token = "";
  proxy = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (!target) {
      res.writeHead(503).end();
      return;
    }
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, authorization: `Bearer ${token}` } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.headersSent || res.writeHead(502).end());
    req.pipe(upstream);
  });
  proxyUrl = `${await listen(proxy)}/mcp`;
  const port = new URL(proxyUrl).port;
  platform = await startTestPlatform({
    bundle: (bundle) => ({
      ...bundle,
      server: { ...bundle.server, corsOrigins: [`http://localhost:${port}`, `http://127.0.0.1:${port}`] },
      guardPolicies: [{ id: "default" }],
      mcp: {
        path: "/mcp",
        policy: "default",
        upstreams: [{ id: "conf", transport: { type: "streamable-http", url: fixture.url } }],
        grants: [{ scope: "mcp:read", upstream: "conf", tools: ["*"] }],
        deny: [],
        alwaysBlocked: [],
      },
    }),
  });
  token = await platform.token("reader");
  target = new URL(platform.url);
  resultsDir = mkdtempSync(join(tmpdir(), "tollgate-conformance-"));
}, 60_000);

afterAll(async () => {
  if (proxy) await closeServer(proxy);
  await platform?.close();
  await fixture?.close();
  if (resultsDir) rmSync(resultsDir, { recursive: true, force: true });
});

function runConformance(): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CONFORMANCE_BIN, "server", "--url", proxyUrl, "--output-dir", join(resultsDir, "results")], { cwd: resultsDir, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.on("error", reject);
    child.on("close", () => resolve(out));
  });
}

interface ScenarioOutcome {
  readonly scenario: string;
  readonly passed: number;
  readonly failed: number;
  /** The failing checks' messages, from the runner's checks.json. */
  readonly failures: string[];
}

/** Reads the runner's per-scenario results (`results/server-<scenario>-<timestamp>/checks.json`). */
function readOutcomes(summary: string): ScenarioOutcome[] {
  const dirs = readdirSync(join(resultsDir, "results"));
  return [...summary.matchAll(/^[✓✗] ([a-z0-9-]+): (\d+) passed, (\d+) failed$/gm)].map(([, scenario = "", passed, failed]) => {
    const dir = dirs.find((d) => d.startsWith(`server-${scenario}-`));
    const checks = dir ? (JSON.parse(readFileSync(join(resultsDir, "results", dir, "checks.json"), "utf8")) as { status: string; name: string; errorMessage?: string }[]) : [];
    const failures = checks.filter((c) => c.status === "FAILURE").map((c) => `${c.name}: ${c.errorMessage ?? "failed"}`);
    return { scenario, passed: Number(passed), failed: Number(failed), failures };
  });
}

describe("MCP conformance through the gateway", () => {
  it(`passes at least ${MIN_PASSING} server scenarios in full`, async () => {
    const output = await runConformance();
    const outcomes = readOutcomes(output);
    expect(outcomes.length).toBeGreaterThanOrEqual(30);
    const passing = outcomes.filter((o) => o.failed === 0 && o.passed > 0);
    console.log(
      [
        `conformance: ${passing.length}/${outcomes.length} scenarios pass (${output.match(/^Total: .*$/m)?.[0] ?? "no total"})`,
        ...outcomes.map((o) => `${o.failed === 0 ? "PASS" : "FAIL"} ${o.scenario}${o.failures.length ? ` — ${o.failures.join("; ").slice(0, 300)}` : ""}`),
      ].join("\n"),
    );
    expect(passing.length).toBeGreaterThanOrEqual(MIN_PASSING);
  }, 300_000);
});

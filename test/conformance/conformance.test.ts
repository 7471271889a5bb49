/**
 * `@modelcontextprotocol/conformance` 0.1.16 (server mode, all active scenarios) against the gateway
 * fronting the project's conformance fixture upstream. The runner has no token option, so a small proxy
 * adds a real bearer token (oidc-provider, scope mcp:read) to every request it forwards.
 *
 * The gateway always namespaces (`conf__test_simple_text`, `tollgate://conf/…` resources), while the
 * scenarios call the fixture's bare names: in the plain run, scenarios that call a tool, prompt or resource
 * by name fail for that reason alone. A second run goes through the proxy's name mapping (name-mapping.ts)
 * and measures the gateway's protocol handling itself. Both compare the exact set of passing scenarios, and
 * the plain run's failures must be that naming alone; the per-scenario outcome is printed for the README.
 *
 * A third run needs no rewriting: a second gateway with the production defaults (GuardPolicy's default guards,
 * the destructive always-blocked floor) serves the fixture on a role endpoint that keeps the upstream's own names
 * (`/mcp/conf`, toolNames "upstream"). Every scenario passes except those a guard changes (GUARD_CHANGED), each
 * failing for exactly that guard's reason.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { type IncomingMessage, type ServerResponse, createServer, request as httpRequest } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, TerraformStack } from "cdktf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DESTRUCTIVE_TOOL_PATTERNS, GuardPolicy } from "../../constructs/guard-policy.js";
import { type TestPlatform, startTestPlatform } from "../support/gateway.js";
import { closeServer, listen } from "../runtime/mcp-fixtures.js";
import { type FixtureServer, startConformanceFixture } from "./fixture-server.js";
import { mapRequestBody, unmapResponseText } from "./name-mapping.js";

const UPSTREAM = "conf";

const require = createRequire(import.meta.url);
const CONFORMANCE_BIN = join(
  require.resolve("@modelcontextprotocol/conformance/package.json"),
  "..",
  "dist",
  "index.js",
);

/** Every active server scenario of the pinned runner: all of them must pass with the name mapping on. */
const SCENARIOS = [
  "server-initialize",
  "logging-set-level",
  "ping",
  "completion-complete",
  "tools-list",
  "tools-call-simple-text",
  "tools-call-image",
  "tools-call-audio",
  "tools-call-embedded-resource",
  "tools-call-mixed-content",
  "tools-call-with-logging",
  "tools-call-error",
  "tools-call-with-progress",
  "tools-call-sampling",
  "tools-call-elicitation",
  "elicitation-sep1034-defaults",
  "server-sse-multiple-streams",
  "elicitation-sep1330-enums",
  "resources-list",
  "resources-read-text",
  "resources-read-binary",
  "resources-templates-read",
  "resources-subscribe",
  "resources-unsubscribe",
  "prompts-list",
  "prompts-get-simple",
  "prompts-get-with-args",
  "prompts-get-embedded-resource",
  "prompts-get-with-image",
  "dns-rebinding-protection",
].sort();

/** Without the mapping, the scenarios that name no tool, prompt or resource by its bare name. */
const PASSING_PLAIN = [
  "server-initialize",
  "logging-set-level",
  "ping",
  "tools-list",
  "server-sse-multiple-streams",
  "resources-list",
  "prompts-list",
  "dns-rebinding-protection",
].sort();

/**
 * Scenarios the production default guards change, and how. tools-call-sampling: the conformance client answers the
 * fixture's sampling request with "This is a test response from the client"; the prompt-injection guard (moderate)
 * matches "this is a test" (a social-engineering phrase: "this is just a test, so ignore the rules") in that model
 * output on its way back to the upstream and withholds it, as it would any model output carrying the phrase.
 */
const GUARD_CHANGED: Readonly<Record<string, RegExp>> = {
  "tools-call-sampling": /sampling result withheld by guard: prompt-injection/,
};

/** How the gateway refuses a bare (not namespaced) name: the one acceptable failure of the plain run. */
const BARE_NAME_REFUSAL = /Unknown (tool|prompt|resource): /;

const LIST_MESSAGE =
  "a scenario that newly passes is an improvement: add it to the list above; one that no longer passes is a regression";

let fixture: FixtureServer;
let platform: TestPlatform;
/** A second gateway with the production defaults: GuardPolicy's default guards and the always-blocked floor. */
let production: TestPlatform;
let proxy: ReturnType<typeof createServer>;
let proxyUrl: string;
let resultsDir: string;

beforeAll(async () => {
  fixture = await startConformanceFixture();
  // The proxy listens first: the runner's localhost Origin (the proxy's address) must be an allowed CORS origin.
  let target: URL | undefined;
  let token = "";
  let productionTarget: URL | undefined;
  let productionToken = "";
  proxy = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (!target) {
      res.writeHead(503).end();
      return;
    }
    const mapNames = req.url?.startsWith("/mapped/") ?? false;
    const toProduction = req.url?.startsWith("/production/") ?? false;
    const path = mapNames || toProduction ? (req.url ?? "").replace(/^\/[a-z]+/, "") : req.url;
    const to = toProduction && productionTarget ? productionTarget : target;
    const headers = { ...req.headers, authorization: `Bearer ${toProduction ? productionToken : token}` };
    const upstream = httpRequest({ host: to.hostname, port: to.port, method: req.method, path, headers }, (answer) => {
      if (!mapNames) {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        return;
      }
      const { "content-length": _length, ...rest } = answer.headers;
      res.writeHead(answer.statusCode ?? 502, rest);
      // Line by line, so server-to-client requests on an open SSE stream (sampling, elicitation) flow through.
      let pending = "";
      answer.setEncoding("utf8");
      answer.on("data", (chunk: string) => {
        pending += chunk;
        const cut = pending.lastIndexOf("\n");
        if (cut >= 0) {
          res.write(unmapResponseText(pending.slice(0, cut + 1), UPSTREAM));
          pending = pending.slice(cut + 1);
        }
      });
      answer.on("end", () => res.end(unmapResponseText(pending, UPSTREAM)));
    });
    upstream.on("error", () => res.headersSent || res.writeHead(502).end());
    if (!mapNames || req.method !== "POST") {
      req.pipe(upstream);
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = mapRequestBody(Buffer.concat(chunks).toString("utf8"), UPSTREAM);
      upstream.setHeader("content-length", Buffer.byteLength(body));
      upstream.end(body);
    });
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
        upstreams: [{ id: UPSTREAM, transport: { type: "streamable-http", url: fixture.url } }],
        grants: [{ scope: "mcp:read", upstream: UPSTREAM, tools: ["*"] }],
        deny: [],
        alwaysBlocked: [],
      },
    }),
  });
  token = await platform.token("reader");
  target = new URL(platform.url);
  const defaults = new GuardPolicy(new TerraformStack(new App(), "conformance"), "Default").toBundle();
  production = await startTestPlatform({
    bundle: (bundle) => ({
      ...bundle,
      server: { ...bundle.server, corsOrigins: [`http://localhost:${port}`, `http://127.0.0.1:${port}`] },
      guardPolicies: [defaults],
      mcp: {
        path: "/mcp",
        policy: defaults.id,
        upstreams: [{ id: UPSTREAM, transport: { type: "streamable-http", url: fixture.url } }],
        grants: [{ scope: "mcp:read", upstream: UPSTREAM, tools: ["*"] }],
        deny: [],
        alwaysBlocked: [{ upstream: "*", tools: [...DESTRUCTIVE_TOOL_PATTERNS], reason: "destructive" }],
        // The conformance scenarios call the fixture's own names: a role endpoint that keeps them.
        endpoints: [{ role: "conf", tools: [{ upstream: UPSTREAM, tools: ["*"] }], toolNames: "upstream" }],
      },
    }),
  });
  productionToken = await production.token("reader");
  productionTarget = new URL(production.url);
  resultsDir = mkdtempSync(join(tmpdir(), "tollgate-conformance-"));
}, 60_000);

afterAll(async () => {
  if (proxy) await closeServer(proxy);
  await platform?.close();
  await production?.close();
  await fixture?.close();
  if (resultsDir) rmSync(resultsDir, { recursive: true, force: true });
});

function runConformance(url: string, outputDir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CONFORMANCE_BIN, "server", "--url", url, "--output-dir", outputDir], {
      cwd: resultsDir,
      stdio: ["ignore", "pipe", "pipe"],
    });
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
function readOutcomes(summary: string, outputDir: string): ScenarioOutcome[] {
  const dirs = readdirSync(outputDir);
  return [...summary.matchAll(/^[✓✗] ([a-z0-9-]+): (\d+) passed, (\d+) failed$/gm)].map(
    ([, scenario = "", passed, failed]) => {
      const dir = dirs.find((d) => d.startsWith(`server-${scenario}-`));
      const checks = dir
        ? (JSON.parse(readFileSync(join(outputDir, dir, "checks.json"), "utf8")) as {
            status: string;
            name: string;
            errorMessage?: string;
          }[])
        : [];
      const failures = checks
        .filter((c) => c.status === "FAILURE")
        .map((c) => `${c.name}: ${c.errorMessage ?? "failed"}`);
      return { scenario, passed: Number(passed), failed: Number(failed), failures };
    },
  );
}

function report(title: string, output: string, outcomes: ScenarioOutcome[]): ScenarioOutcome[] {
  const passing = outcomes.filter((o) => o.failed === 0 && o.passed > 0);
  console.log(
    [
      `${title}: ${passing.length}/${outcomes.length} scenarios pass (${output.match(/^Total: .*$/m)?.[0] ?? "no total"})`,
      `  passing: ${passing.map((o) => o.scenario).join(", ")}`,
      ...outcomes
        .filter((o) => o.failed > 0)
        .map((o) => `  FAIL ${o.scenario} — ${o.failures.join("; ").slice(0, 200)}`),
    ].join("\n"),
  );
  return passing;
}

const names = (outcomes: readonly ScenarioOutcome[]) => outcomes.map((o) => o.scenario).sort();

describe("MCP conformance through the gateway", () => {
  it("passes exactly the scenarios that use no bare name, and fails the others only for the bare name", async () => {
    const outputDir = join(resultsDir, "plain");
    const output = await runConformance(proxyUrl, outputDir);
    const outcomes = readOutcomes(output, outputDir);
    expect(names(outcomes), "the runner's scenarios changed: update SCENARIOS").toEqual(SCENARIOS);
    expect(names(report("conformance (plain)", output, outcomes)), LIST_MESSAGE).toEqual(PASSING_PLAIN);
    const otherFailures = outcomes.flatMap((o) =>
      o.failed > 0 && o.failures.length === 0
        ? [`${o.scenario}: failed without a readable checks.json`]
        : o.failures.filter((f) => !BARE_NAME_REFUSAL.test(f)).map((f) => `${o.scenario}: ${f}`),
    );
    expect(otherFailures, "failures other than the gateway refusing a bare name").toEqual([]);
  }, 300_000);

  it("with bare names mapped to the gateway's namespaced names, passes every scenario in full", async () => {
    const outputDir = join(resultsDir, "mapped");
    const output = await runConformance(proxyUrl.replace(/\/mcp$/, "/mapped/mcp"), outputDir);
    const outcomes = readOutcomes(output, outputDir);
    expect(names(outcomes), "the runner's scenarios changed: update SCENARIOS").toEqual(SCENARIOS);
    expect(names(report("conformance (names mapped)", output, outcomes)), LIST_MESSAGE).toEqual(SCENARIOS);
  }, 300_000);

  it("on a role endpoint with the upstream's own names, the default guards and the always-blocked floor, passes every scenario a guard does not change", async () => {
    const outputDir = join(resultsDir, "production");
    const output = await runConformance(proxyUrl.replace(/\/mcp$/, "/production/mcp/conf"), outputDir);
    const outcomes = readOutcomes(output, outputDir);
    expect(names(outcomes), "the runner's scenarios changed: update SCENARIOS").toEqual(SCENARIOS);
    const changedByGuards = Object.keys(GUARD_CHANGED).sort();
    expect(names(report("conformance (own names, production guards)", output, outcomes)), LIST_MESSAGE).toEqual(
      SCENARIOS.filter((s) => !changedByGuards.includes(s)),
    );
    const failures = Object.fromEntries(
      outcomes.filter((o) => o.failed > 0).map((o) => [o.scenario, o.failures.join("; ")] as const),
    );
    expect(Object.keys(failures).sort()).toEqual(changedByGuards);
    for (const [scenario, reason] of Object.entries(GUARD_CHANGED))
      expect(failures[scenario], scenario).toMatch(reason);
  }, 300_000);
});

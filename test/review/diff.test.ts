import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  type Change,
  type ReviewReport,
  COMMENT_MARKER,
  diffSyntheses,
  renderMarkdown,
} from "../../policies/review/index.js";
import { EXIT_WIDENING, readSynthesis } from "../../runtime/cli/diff.js";
import { runCli } from "../cli/run-cli.js";
import { allFixtureFiles, CASES, TOOL_CATALOG } from "../fixtures/review/cases.js";
import { sampleBundle } from "../support/sample-bundle.js";
import { type BundleInput, orThrow, validateSynthBundle, withDigest } from "../../policies/bundle/index.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const fixtures = join(root, "test/fixtures/review");
const GW = "tollgate-dev/gateway";

async function review(name: string, opts: { plan?: boolean; catalog?: boolean } = {}): Promise<ReviewReport> {
  const base = await readSynthesis(join(fixtures, name, "base"));
  const head = await readSynthesis(join(fixtures, name, "head"));
  const plan = opts.plan
    ? new Map([["tollgate-dev", JSON.parse(readFileSync(join(fixtures, name, "plan.json"), "utf8"))]])
    : undefined;
  return diffSyntheses(base, head, {
    ...(plan ? { plans: plan } : {}),
    ...(opts.catalog ? { catalog: TOOL_CATALOG } : {}),
  });
}

const of = <K extends Change["kind"]>(report: ReviewReport, kind: K) =>
  report.changes.filter((c): c is Extract<Change, { kind: K }> => c.kind === kind);

/** Runs `tollgate diff` in-process and captures what it prints. */
const runDiff = (args: string[]) => runCli(["diff", ...args]);

describe("review fixtures", () => {
  it("the committed fixture pairs are what cases.ts builds (run test/fixtures/review/build.ts after changing it)", () => {
    for (const [file, text] of Object.entries(allFixtureFiles()))
      expect(readFileSync(join(fixtures, file), "utf8"), file).toBe(text);
  });

  it("every fixture bundle is a valid synth-time bundle", () => {
    for (const c of CASES) for (const side of [c.base, c.head]) expect(validateSynthBundle(side.bundle).ok).toBe(true);
  });
});

describe("tollgate diff: effective authority", () => {
  it("a scope that gains a tool is one widening row for the scope and one for every Okta client holding it", async () => {
    const report = await review("scope-gains-tool");
    expect(of(report, "tool-access")).toEqual([
      expect.objectContaining({
        effect: "widening",
        gateway: GW,
        scope: "mcp:write",
        tool: "github__create_pull_request",
        match: "tool",
        change: "gained",
        summary: "mcp:write can now call github__create_pull_request",
      }),
    ]);
    expect(of(report, "client-access")).toEqual([
      expect.objectContaining({
        effect: "widening",
        client: "coding-agent",
        unattended: true,
        tool: "github__create_pull_request",
        change: "gained",
        via: "mcp:write",
      }),
    ]);
    expect(report.summary).toMatchObject({ widening: 2, narrowing: 0, warnings: [] });
    expect(report.authority).toContainEqual({
      gateway: GW,
      scope: "mcp:write",
      upstream: "github",
      pattern: "create_pull_request",
      state: "added",
    });
  });

  it("a tool moved to always-blocked is lost by every scope and client that could call it, naming the rule", async () => {
    const report = await review("tool-always-blocked");
    expect(of(report, "always-blocked")).toEqual([
      expect.objectContaining({ effect: "narrowing", upstream: "memory", pattern: "create_entities", change: "added" }),
    ]);
    const lost = of(report, "tool-access");
    expect(lost.map((c) => [c.scope, c.tool, c.change, c.rule])).toEqual([
      ["mcp:admin", "memory__create_entities", "lost", "always-blocked: writes the shared graph"],
      ["mcp:write", "memory__create_entities", "lost", "always-blocked: writes the shared graph"],
    ]);
    expect(of(report, "client-access").map((c) => c.client)).toEqual(["coding-agent"]);
    expect(report.summary.widening).toBe(0);
  });

  it("an Okta client that may request a new scope gains that scope's tools", async () => {
    const report = await review("client-gains-scope", { catalog: true });
    expect(of(report, "client-scope")).toEqual([
      expect.objectContaining({
        effect: "widening",
        gateway: "tollgate-dev",
        client: "research-agent",
        scope: "mcp:write",
        change: "added",
      }),
    ]);
    expect(of(report, "client-access").map((c) => `${c.client} ${c.change} ${c.tool}`)).toEqual([
      "research-agent gained memory__add_observations",
      "research-agent gained memory__create_entities",
      "research-agent gained memory__create_relations",
    ]);
    expect(of(report, "tool-access")).toEqual([]);
  });

  it("a removed grant pattern is one row per pattern; a catalogue names the known tools each covered", async () => {
    const base = sampleBundle();
    const head = structuredClone(base) as BundleInput;
    head.mcp!.grants = head.mcp!.grants!.filter((g) => !(g.scope === "mcp:read" && g.upstream === "memory"));
    const side = (b: BundleInput) => ({
      stacks: [{ name: "tollgate-dev", bundles: [orThrow(validateSynthBundle(b))] }],
    });
    const plain = diffSyntheses(side(base), side(head));
    expect(of(plain, "tool-access").map((c) => `${c.scope} ${c.change} ${c.match} ${c.tool}`)).toEqual([
      "mcp:read lost pattern memory__open_*",
      "mcp:read lost pattern memory__read_*",
      "mcp:read lost pattern memory__search_*",
    ]);
    const withCatalog = diffSyntheses(side(base), side(head), { catalog: TOOL_CATALOG });
    expect(of(withCatalog, "tool-access").map((c) => `${c.scope} ${c.tool} [${c.covers}] ${c.rule}`)).toEqual([
      "mcp:read memory__open_* [open_nodes] scope: mcp:admin required",
      "mcp:read memory__read_* [read_graph] scope: mcp:admin required",
      "mcp:read memory__search_* [search_nodes] scope: mcp:admin required",
    ]);
    expect(withCatalog.toolNames.source).toBe("bundle+catalog");
  });
});

describe("tollgate diff: guards, limits, routes", () => {
  it("a guard going from block to log is a loosening", async () => {
    const report = await review("guard-block-to-log");
    expect(of(report, "guard-mode")).toEqual([
      expect.objectContaining({
        effect: "widening",
        policy: "default",
        guard: "promptInjection",
        before: "block",
        after: "log",
      }),
    ]);
  });

  it("a raised request budget is a widening and shows both budgets", async () => {
    const report = await review("limit-raised");
    expect(of(report, "limit")).toEqual([
      expect.objectContaining({
        effect: "widening",
        policy: "default",
        limit: "requests",
        before: { perWindow: 60, windowSeconds: 60 },
        after: { perWindow: 600, windowSeconds: 60 },
      }),
    ]);
  });

  it("a provider added to a route is a widening (prompts may go to a new vendor)", async () => {
    const report = await review("provider-added");
    expect(of(report, "provider")).toEqual([
      expect.objectContaining({ effect: "widening", route: "openai", provider: "azure", change: "added" }),
    ]);
    expect(of(report, "route")).toEqual([]);
  });
});

describe("tollgate diff: token acceptance and policy bindings", () => {
  const side = (b: BundleInput) => ({ stacks: [{ name: "tollgate-dev", bundles: [orThrow(validateSynthBundle(b))] }] });

  it("dropping the client allow-list accepts every client's tokens: a widening", () => {
    const base = sampleBundle();
    base.auth.allowedClients = ["research-agent"];
    const head = structuredClone(base);
    delete head.auth.allowedClients;
    expect(of(diffSyntheses(side(base), side(head)), "auth")).toEqual([
      expect.objectContaining({ effect: "widening", field: "allowedClients", before: ["research-agent"], after: null }),
    ]);
    expect(of(diffSyntheses(side(head), side(base)), "auth")).toEqual([
      expect.objectContaining({ effect: "narrowing", field: "allowedClients" }),
    ]);
  });

  it("loosening token checks is a widening: an older maximum age, a check turned off, another scope claim", () => {
    const base = sampleBundle();
    const head = structuredClone(base);
    head.auth.maxTokenAgeSeconds = 7 * 86_400;
    head.auth.requireScopeClaim = false;
    head.auth.tokenProfile = "rfc9068";
    const changes = of(diffSyntheses(side(base), side(head)), "auth");
    expect(changes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ effect: "widening", field: "maxTokenAgeSeconds", before: 86_400, after: 604_800 }),
        expect.objectContaining({ effect: "widening", field: "requireScopeClaim", before: true, after: false }),
        expect.objectContaining({ effect: "widening", field: "scopeClaim", before: "scp", after: "scope" }),
        expect.objectContaining({ effect: "widening", field: "clientClaims" }),
        // rfc9068 also requires typ at+jwt: that part tightens.
        expect.objectContaining({ effect: "narrowing", field: "requireAccessTokenType" }),
      ]),
    );
    expect(changes).toHaveLength(5);
    expect(
      of(diffSyntheses(side(head), side(base)), "auth").find((c) => c.field === "maxTokenAgeSeconds"),
    ).toMatchObject({ effect: "narrowing" });
  });

  it("pointing a route at a weaker guard policy is a widening of that route", () => {
    const base = sampleBundle();
    base.guardPolicies.push({ id: "lax", pii: { mode: "log" } });
    const head = structuredClone(base);
    head.llm!.routes![0]!.policy = "lax";
    expect(of(diffSyntheses(side(base), side(head)), "policy-binding")).toEqual([
      expect.objectContaining({ effect: "widening", target: "route openai", before: "default", after: "lax" }),
    ]);
  });
});

describe("tollgate diff: infrastructure", () => {
  it("warns loudly that a renamed construct ID destroys and recreates the resource", async () => {
    const report = await review("construct-renamed");
    const infra = report.infrastructure[0]!;
    expect(infra.source).toBe("synth");
    expect(infra.resources).toContainEqual({
      address: "okta_app_oauth.okta_research-agent-v2",
      type: "okta_app_oauth",
      provider: "okta",
      action: "replace",
      previousAddress: "okta_app_oauth.okta_research-agent",
    });
    expect(infra.resources.filter((r) => r.action === "delete")).toEqual([]);
    expect(report.summary.warnings).toEqual([
      expect.stringMatching(/okta_research-agent was renamed to .*okta_research-agent-v2.*DESTROY and recreate/),
    ]);
    expect(report.changes).toEqual([]);
  });

  it("with a plan, reports Terraform's real actions per address, including the replace and its cause", async () => {
    const estimate = await review("plan-replace");
    expect(estimate.infrastructure[0]!.resources.map((r) => [r.address, r.action])).toEqual([
      ["aws_iam_role.agentcore_runtime-role", "update"],
    ]);
    const report = await review("plan-replace", { plan: true });
    const infra = report.infrastructure[0]!;
    expect(infra.source).toBe("plan");
    expect(infra.resources).toEqual([
      {
        address: "aws_iam_role.agentcore_runtime-role",
        type: "aws_iam_role",
        provider: "aws",
        action: "replace",
        reason: "replace_because_cannot_update; forced by name",
      },
      {
        address: "kubernetes_config_map_v1.gateway_bundle",
        type: "kubernetes_config_map_v1",
        provider: "kubernetes",
        action: "update",
      },
    ]);
    expect(infra.providers).toEqual([
      { provider: "aws", create: 0, update: 0, replace: 1, delete: 0, move: 0 },
      { provider: "kubernetes", create: 0, update: 1, replace: 0, delete: 0, move: 0 },
    ]);
    expect(report.summary.warnings).toEqual([
      expect.stringContaining("aws_iam_role.agentcore_runtime-role will be DESTROYED and recreated"),
    ]);
  });
});

describe("tollgate diff: Markdown for the PR comment", () => {
  for (const c of CASES) {
    it(`renders ${c.name} (${c.description})`, async () => {
      const markdown = renderMarkdown(await review(c.name, { plan: c.plan !== undefined }));
      expect(markdown.startsWith(COMMENT_MARKER)).toBe(true);
      await expect(markdown).toMatchFileSnapshot(`__snapshots__/${c.name}.md`);
    });
  }

  it("draws added grants as thick edges in the Mermaid diagram", async () => {
    const markdown = renderMarkdown(await review("scope-gains-tool"));
    expect(markdown).toContain("```mermaid");
    expect(markdown).toMatch(/s\d+ ==>\|added\| t\d+/);
  });
});

describe("tollgate diff: command line", () => {
  it("--fail-on widening exits non-zero for a widening change and zero for a narrowing one", async () => {
    const widening = await runDiff([
      join(fixtures, "scope-gains-tool/base"),
      join(fixtures, "scope-gains-tool/head"),
      "--fail-on",
      "widening",
      "--format",
      "json",
    ]);
    expect(widening.code).toBe(EXIT_WIDENING);
    expect(JSON.parse(widening.stdout).summary.widening).toBe(2);
    const narrowing = await runDiff([
      join(fixtures, "tool-always-blocked/base"),
      join(fixtures, "tool-always-blocked/head"),
      "--fail-on",
      "widening",
    ]);
    expect(narrowing.code).toBe(0);
    expect(narrowing.stdout).toContain("can no longer call memory__create_entities");
  });

  it("compares two lone bundle files as well as cdktf.out directories", async () => {
    const bundle = (side: string) =>
      join(fixtures, "scope-gains-tool", side, "stacks/tollgate-dev/gateway.bundle.json");
    const out = await runDiff([bundle("base"), bundle("head"), "--format", "json"]);
    expect(out.code).toBe(0);
    const report = JSON.parse(out.stdout) as ReviewReport;
    expect(of(report, "tool-access").map((c) => c.summary)).toEqual([
      "mcp:write can now call github__create_pull_request",
    ]);
    expect(report.infrastructure).toEqual([]);
  });

  it("names the bad field of an invalid bundle and exits 1", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tollgate-diff-invalid-"));
    const file = join(dir, "gateway.bundle.json");
    writeFileSync(file, JSON.stringify(withDigest({ ...sampleBundle(), apiVersion: "tollgate.dev/v0" } as never)));
    const out = await runDiff([join(fixtures, "scope-gains-tool/base"), file]);
    rmSync(dir, { recursive: true, force: true });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("gateway.bundle.json: invalid gateway bundle");
    expect(out.stderr).toContain("apiVersion");
  });

  it("refuses a --plan that names no stack of the head, and an unknown --fail-on", async () => {
    const args = [join(fixtures, "plan-replace/base"), join(fixtures, "plan-replace/head")];
    const badStack = await runDiff([...args, "--plan", `prod=${join(fixtures, "plan-replace/plan.json")}`]);
    expect(badStack.code).toBe(1);
    expect(badStack.stderr).toContain('no stack "prod"');
    expect((await runDiff([...args, "--fail-on", "anything"])).code).toBe(2);
  });

  it("runs as the tollgate binary (process exit code)", () => {
    const run = spawnSync(
      process.execPath,
      [
        join(root, "bin/tollgate.mjs"),
        "diff",
        join(fixtures, "limit-raised/base"),
        join(fixtures, "limit-raised/head"),
        "--fail-on",
        "widening",
      ],
      { encoding: "utf8" },
    );
    expect(run.status).toBe(EXIT_WIDENING);
    expect(run.stdout).toContain("requests limit of default raised: 60 requests/60s → 600 requests/60s");
  });
});

describe("tollgate diff: agents", () => {
  const withAgents = (agents: { id: string; clientId: string; scopes: string[] }[]) => {
    const bundle = sampleBundle() as BundleInput & { agents?: unknown };
    bundle.agents = agents;
    return orThrow(validateSynthBundle(bundle));
  };
  /** mcp:admin is consent-gated in the stack's Okta scopes: never issued to client credentials. */
  const terraform = {
    resource: {
      okta_auth_server_scope: {
        read: { name: "mcp:read", consent: "IMPLICIT" },
        admin: { name: "mcp:admin", consent: "REQUIRED" },
      },
    },
  };
  const side = (bundle: ReturnType<typeof withAgents>) => ({
    stacks: [{ name: "tollgate-dev", terraform, bundles: [bundle] }],
  });
  const triage = { id: "triage", clientId: "0oatriage", scopes: ["mcp:read"] };

  it("a scope added to an agent's ceiling is a widening, with the tools it now reaches alone and for a user", () => {
    const report = diffSyntheses(
      side(withAgents([triage])),
      side(withAgents([{ ...triage, scopes: ["mcp:read", "mcp:write"] }])),
    );
    expect(of(report, "agent-scope")).toEqual([
      expect.objectContaining({ effect: "widening", agent: "triage", scope: "mcp:write", change: "added" }),
    ]);
    const access = of(report, "agent-access");
    expect(access.map((c) => `${c.acting} ${c.change} ${c.tool} ${c.via}`)).toEqual([
      "both gained memory__add_* mcp:write",
      "both gained memory__create_* mcp:write",
    ]);
    expect(report.summary.widening).toBe(3);
  });

  it("a privileged scope widens an agent only for a user: alone it is never issued", () => {
    const report = diffSyntheses(
      side(withAgents([triage])),
      side(withAgents([{ ...triage, scopes: ["mcp:read", "mcp:admin"] }])),
    );
    const access = of(report, "agent-access");
    expect(access.length).toBeGreaterThan(0);
    expect(access.every((c) => c.acting === "for-user" && c.change === "gained")).toBe(true);
    expect(access.map((c) => c.summary)).toContain(
      "agent triage acting for a user can now call tools matching `memory__*` (via mcp:admin)",
    );
  });

  it("an agent removed is a narrowing, and a new client id for an agent is a neutral auth change", () => {
    const removed = diffSyntheses(side(withAgents([triage])), side(withAgents([])));
    expect(of(removed, "agent")).toEqual([
      expect.objectContaining({ effect: "narrowing", agent: "triage", change: "removed", scopes: ["mcp:read"] }),
    ]);
    expect(of(removed, "agent-access").every((c) => c.effect === "narrowing" && c.acting === "both")).toBe(true);
    const moved = diffSyntheses(side(withAgents([triage])), side(withAgents([{ ...triage, clientId: "0oanew" }])));
    expect(of(moved, "auth").map((c) => c.summary)).toEqual(["agent triage is now the client 0oanew (was 0oatriage)"]);
    expect(of(moved, "agent-access")).toEqual([]);
  });
});

describe("tollgate diff: spend budgets and prices", () => {
  const agents = [
    { id: "triage", clientId: "0oatriage", scopes: ["mcp:read"] },
    { id: "coding", clientId: "0oacoding", scopes: ["mcp:read", "mcp:write"] },
  ];
  const BASE_BUDGETS = [
    { id: "user-daily", per: "user", window: "day", maxUsd: 5 },
    { id: "triage-monthly", per: "agent", agent: "triage", window: "month", maxUsd: 20 },
    { id: "coding-monthly", per: "agent", agent: "coding", window: "month", maxUsd: 100 },
    { id: "openai-hourly", per: "route", route: "openai", window: { seconds: 3600 }, maxUsd: 50 },
  ];
  const withSpend = (spend: Record<string, unknown>) => {
    const bundle = sampleBundle() as BundleInput & { agents?: unknown; spend?: unknown };
    bundle.agents = agents;
    bundle.spend = spend;
    return { stacks: [{ name: "tollgate-dev", bundles: [orThrow(validateSynthBundle(bundle))] }] };
  };
  const rows = (report: ReviewReport) =>
    report.changes
      .filter((c) => c.kind === "agent-budget" || c.kind === "spend-budget" || c.kind === "spend-price")
      .map((c) => `${c.kind} ${c.effect}: ${c.summary}`);

  it("reports each budget added, removed, raised, lowered or re-windowed, agents' budgets as the agent's", () => {
    const report = diffSyntheses(
      withSpend({ budgets: BASE_BUDGETS }),
      withSpend({
        budgets: [
          { id: "user-daily", per: "user", window: "day", maxUsd: 10 },
          { id: "triage-monthly", per: "agent", agent: "triage", window: "month", maxUsd: 15 },
          { id: "openai-hourly", per: "route", route: "openai", window: { seconds: 60 }, maxUsd: 50 },
          { id: "coding-daily", per: "agent", agent: "coding", window: "day", maxUsd: 10 },
          { id: "agents-daily", per: "agent", window: "day", maxUsd: 1 },
        ],
      }),
    );
    expect(rows(report)).toEqual([
      "agent-budget narrowing: every agent: spend budget agents-daily added: 1 USD per day per agent",
      "agent-budget narrowing: agent coding: spend budget coding-daily added: 10 USD per day per agent through agent coding",
      "agent-budget widening: agent coding: spend budget coding-monthly removed (it capped 100 USD per month per agent through agent coding)",
      "spend-budget widening: spend budget openai-hourly raised: 50 USD per 3600s per route on route openai → 50 USD per 60s per route on route openai",
      "agent-budget narrowing: agent triage: spend budget triage-monthly lowered: 20 USD per month per agent through agent triage → 15 USD per month per agent through agent triage",
      "spend-budget widening: spend budget user-daily raised: 5 USD per day per user → 10 USD per day per user",
    ]);
    expect(of(report, "agent-budget").find((c) => c.budget === "triage-monthly")).toMatchObject({
      agent: "triage",
      change: "changed",
      before: { per: "agent", agent: "triage", window: "month", maxUsd: 20 },
      after: { per: "agent", agent: "triage", window: "month", maxUsd: 15 },
    });
    expect(report.summary).toMatchObject({ widening: 3, narrowing: 3 });
  });

  it("a budget re-scoped to one agent is a widening (the others are no longer capped); the same spend is no row", () => {
    const same = diffSyntheses(withSpend({ budgets: BASE_BUDGETS }), withSpend({ budgets: BASE_BUDGETS }));
    expect(rows(same)).toEqual([]);
    const rescoped = diffSyntheses(
      withSpend({ budgets: BASE_BUDGETS }),
      withSpend({
        budgets: BASE_BUDGETS.map((b) => (b.id === "user-daily" ? { ...b, agent: "coding" } : b)),
      }),
    );
    expect(rows(rescoped)).toEqual([
      "agent-budget widening: agent coding: spend budget user-daily re-scoped: 5 USD per day per user → 5 USD per day per user through agent coding",
    ]);
  });

  it("reports price overrides changed, a price for an unlisted model and the default table turned off", () => {
    const report = diffSyntheses(
      withSpend({
        prices: { "grok-4": { input: 3, cachedInput: 0.75, output: 15 }, "gpt-4o": { input: 5, output: 20 } },
      }),
      withSpend({
        defaultPrices: false,
        prices: { "grok-4": { input: 2, cachedInput: 0.5, output: 10 }, "my-finetune": { input: 3, output: 12 } },
        unknownModelPrice: { input: 10, output: 30 },
      }),
    );
    expect(rows(report)).toEqual([
      "spend-price narrowing: spend.defaultPrices turned off: only the bundle's own prices apply (other models are refused where a budget applies)",
      "spend-price narrowing: price of gpt-4o: 5/5/5/20 USD per M tokens (input/cached/cache write/output) → no price",
      "spend-price widening: price of grok-4: 3/0.75/3/15 USD per M tokens (input/cached/cache write/output) → 2/0.5/2/10 USD per M tokens (input/cached/cache write/output)",
      "spend-price widening: price of my-finetune: no price → 3/3/3/12 USD per M tokens (input/cached/cache write/output)",
      "spend-price widening: price of models the table does not list: no price → 10/10/10/30 USD per M tokens (input/cached/cache write/output)",
    ]);
    // gpt-4o keeps Tollgate's default price when only its override goes: no longer 5/20, back to the table's.
    const back = diffSyntheses(withSpend({ prices: { "gpt-4o": { input: 5, output: 20 } } }), withSpend({}));
    expect(rows(back)).toEqual([
      "spend-price widening: price of gpt-4o: 5/5/5/20 USD per M tokens (input/cached/cache write/output) → 2.5/1.25/2.5/10 USD per M tokens (input/cached/cache write/output)",
    ]);
  });

  it("shows agents' budgets beside their authority and the others in their own section of the PR comment", async () => {
    const markdown = renderMarkdown(
      diffSyntheses(
        withSpend({ budgets: BASE_BUDGETS }),
        withSpend({ budgets: BASE_BUDGETS.filter((b) => b.id !== "triage-monthly" && b.id !== "user-daily") }),
      ),
    );
    const section = (title: string) => markdown.split(`#### ${title}`)[1]?.split("####")[0] ?? "";
    expect(section("Agents: alone and acting for a user")).toContain(
      "agent triage: spend budget triage-monthly removed (it capped 20 USD per month per agent through agent triage)",
    );
    expect(section("Spend budgets and prices")).toContain(
      "| 🔺 widening | spend budget user-daily removed (it capped 5 USD per day per user) |",
    );
    const out = await runDiffFiles(withSpend({ budgets: BASE_BUDGETS }), withSpend({ budgets: [] }));
    expect(out.code).toBe(EXIT_WIDENING);
    expect(out.stderr).toContain("4 widening change(s)");
  });
});

/** `tollgate diff --fail-on widening` over two bundle files written from these syntheses. */
async function runDiffFiles(
  base: { stacks: { bundles: unknown[] }[] },
  head: { stacks: { bundles: unknown[] }[] },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-diff-spend-"));
  try {
    const write = (name: string, bundle: unknown) => {
      const file = join(dir, name);
      writeFileSync(file, JSON.stringify(withDigest(bundle as never)));
      return file;
    };
    return await runDiff([
      write("base.bundle.json", base.stacks[0]!.bundles[0]),
      write("head.bundle.json", head.stacks[0]!.bundles[0]),
      "--format",
      "json",
      "--fail-on",
      "widening",
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

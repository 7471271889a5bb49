import type { z } from "zod";

/** One problem in a bundle: where, what, and how to fix it. */
export interface BundleIssue {
  /** JSON path such as `mcp.upstreams[1].transport.url` (empty for the whole bundle). */
  readonly path: string;
  readonly message: string;
  /** Where the value comes from on the compile side, when that is known. */
  readonly fix?: string;
}

/** Where each part of the bundle is set, so an error can say what to change. Most specific first. */
const FIXES: readonly [RegExp, string][] = [
  [
    /^auth\.(issuer|discoveryUrl|jwksUri|audiences)/,
    "set by OktaApps (authorization server); locally, by the overlay's values",
  ],
  [/^auth\.allowedClients/, "set by OktaApps (client apps)"],
  [/^auth\./, "set GatewayBundle({ auth })"],
  [
    /^server\.readiness\.requiredUpstreams/,
    "list routes of GatewayBundle({ routes }) in GatewayBundle({ readiness: { requiredUpstreams } }) (in the bundle: MCP upstream ids, LLM route ids)",
  ],
  [/^server\.readiness/, "set GatewayBundle({ readiness })"],
  [/^server\.console/, "set GatewayBundle({ console })"],
  [/^server\./, "the gateway URL is the authorization server's audience: set OktaApps({ gatewayUri })"],
  [/^protectedResource\./, "derived from OktaApps and McpScopes"],
  [/^llm\.routes\[\d+\]\.providers/, "set GatewayRoute.llm({ providers })"],
  [/^llm\.routes\[\d+\]\.policy/, "apply a GuardPolicy to the route"],
  [/^llm\./, "set GatewayRoute.llm({ ... })"],
  [
    /^mcp\.upstreams\[\d+\]\.transport\.(baseUrl|operations|maxResponseBytes)/,
    "set GatewayRoute.openapi({ document, baseUrl, operations, maxResponseBytes })",
  ],
  [/^mcp\.upstreams\[\d+\]\.transport/, "set GatewayRoute.mcp({ url }) or GatewayRoute.mcp({ command })"],
  [/^mcp\.upstreams\[\d+\]\.credentials/, "set GatewayRoute.mcp({ credentials })"],
  [/^mcp\.sessions/, "set GatewayBundle({ mcpSessions })"],
  [/^mcp\.(endpoints|toolNames|discovery)/, "set GatewayBundle({ mcpCatalog })"],
  [/^mcp\.upstreams/, "set GatewayRoute.mcp({ ... })"],
  [/^mcp\.(grants|deny)/, "use McpScopes.grantTools(...) / denyTools(...)"],
  [/^mcp\.alwaysBlocked/, "set GuardPolicy({ alwaysBlockedTools })"],
  [/^guardPolicies/, "set GuardPolicy({ ... })"],
  [/^rateLimitStore/, "set GatewayBundle({ rateLimitStore })"],
  [/^telemetry/, "set GatewayBundle({ telemetry })"],
  [/^spend/, "set GatewayBundle({ spend })"],
  [/^metadata\.digest/, "the bundle was edited after synth: re-run cdktf synth instead of editing it"],
  [/^apiVersion/, "synthesize the bundle with the same Tollgate version as the runtime"],
];

export function fixFor(path: string): string | undefined {
  return FIXES.find(([pattern]) => pattern.test(path))?.[1];
}

export function formatPath(segments: readonly PropertyKey[]): string {
  return segments
    .map((segment, i) => (typeof segment === "number" ? `[${segment}]` : `${i === 0 ? "" : "."}${String(segment)}`))
    .join("");
}

export function issuesFromZod(error: z.ZodError): BundleIssue[] {
  return error.issues.flatMap((issue) => {
    // For unions, zod reports the last alternative's problems inside `errors`; show the most specific one.
    const path = formatPath(issue.path);
    let message = issue.message;
    if (issue.code === "unrecognized_keys")
      message = `unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}: remove ${issue.keys.length > 1 ? "them" : "it"} (unknown fields are errors, never ignored)`;
    if (issue.code === "invalid_union" && issue.errors.length > 0) {
      // An apply-time field's placeholder alternative fails on any plain value: the value's own problem says more.
      const alternatives = issue.errors.filter((issues) => !issues.some(isPlaceholderMismatch));
      const nested = (alternatives.length > 0 ? alternatives : issue.errors).flat();
      const best = nested.find((n) => n.message !== "Invalid input") ?? nested[0];
      if (best) message = best.message;
    }
    const fix = fixFor(path);
    return [{ path, message, ...(fix ? { fix } : {}) }];
  });
}

function isPlaceholderMismatch(issue: z.core.$ZodIssue): boolean {
  return issue.code === "invalid_format" && issue.format === "regex" && String(issue.pattern).includes("apply:");
}

export function formatIssue(issue: BundleIssue): string {
  return `${issue.path || "(bundle)"}: ${issue.message}${issue.fix ? ` — ${issue.fix}` : ""}`;
}

export class BundleError extends Error {
  constructor(
    readonly issues: readonly BundleIssue[],
    readonly source?: string,
  ) {
    super(
      `${source ? `${source}: ` : ""}invalid gateway bundle:\n${issues.map((i) => `  - ${formatIssue(i)}`).join("\n")}`,
    );
    this.name = "BundleError";
  }
}

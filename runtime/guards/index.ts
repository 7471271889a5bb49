/**
 * Guards on MCP tool calls: the hook the MCP gateway calls around every tool call with the bundle's
 * `mcp.policy` guard policy. Every guard the policy configures runs on both sides, in the same order:
 * prompt injection (tool output is the classic indirect-injection vector), PII (what a tool receives or
 * returns ends up in a prompt that leaves), then credential leak (no key goes into a tool call or comes
 * back out of one). Every decision that changes or refuses something is audited.
 *
 * Verdicts are remembered by content hash ({@link VerdictCache}), clean, rewritten or refused alike: the
 * guards are pure functions of the text under a compiled policy, which a reload replaces together with
 * this guard. A remembered verdict is audited like a fresh one, on every call.
 */
import {
  type CompiledGuardPolicy,
  type TextVerdict,
  compileGuardPolicy,
  guardJsonStrings,
} from "../../policies/guards/index.js";
import {
  type ActiveConfig,
  type GuardOutcome,
  type RequestContext,
  type ToolCallGuard,
  passThroughToolGuard,
} from "../http/types.js";
import { VerdictCache } from "./verdict-cache.js";
import { auditWho } from "../observability/audit.js";

export { VerdictCache };

/** 8,192 verdicts, 8 MiB estimated; tool results repeat (status lines, the same record fetched again). */
const CACHE_LIMITS = { maxEntries: 8192, maxBytes: 8 * 1024 * 1024 };

/**
 * Binary resource contents (`blob`, base64) are left out of the scan: no text pattern means anything in base64,
 * and a long base64 run would look like a key to the credential guard.
 */
async function guardTextContents(
  value: unknown,
  guard: (value: unknown) => Promise<GuardOutcome<unknown>>,
): Promise<GuardOutcome<unknown>> {
  const contents = (value as { contents?: unknown } | null)?.contents;
  const hasBlob = (c: unknown) => typeof (c as { blob?: unknown } | null)?.blob === "string";
  if (!Array.isArray(contents) || !contents.some(hasBlob)) return guard(value);
  const blobs = contents.map((c: unknown) => (hasBlob(c) ? (c as { blob: string }).blob : undefined));
  const scanned = {
    ...(value as object),
    contents: contents.map((c: unknown) => (hasBlob(c) ? { ...(c as object), blob: "" } : c)),
  };
  const outcome = await guard(scanned);
  if (outcome.action === "block") return outcome;
  const guarded = (outcome.value as { contents: object[] }).contents;
  return {
    ...outcome,
    value: {
      ...(outcome.value as object),
      contents: guarded.map((c, i) => (blobs[i] === undefined ? c : { ...c, blob: blobs[i] })),
    },
  };
}

export function createToolCallGuard(config: ActiveConfig): ToolCallGuard {
  const policyId = config.bundle.mcp?.policy;
  const policy = config.bundle.guardPolicies.find((p) => p.id === policyId);
  if (!policy || (!policy.pii && !policy.promptInjection && !policy.credentialLeak)) return passThroughToolGuard;
  const compiled: CompiledGuardPolicy = compileGuardPolicy(policy);

  const audit = <T>(ctx: RequestContext, tool: string, what: string, outcome: GuardOutcome<T>): GuardOutcome<T> => {
    const base = {
      kind: "mcp" as const,
      ...auditWho(ctx.principal),
      tool,
      requestId: ctx.requestId,
      traceId: ctx.traceId,
      route: "mcp",
    };
    if (outcome.action === "block") {
      ctx.audit.record({
        ...base,
        decision: "block",
        rule: `guard: ${outcome.guard}`,
        reason: `${what} refused`,
      });
    } else if (outcome.redactions && Object.keys(outcome.redactions).length > 0) {
      ctx.audit.record({
        ...base,
        decision: "redact",
        rule: "guard",
        reason: `${what} redacted`,
        redactions: outcome.redactions,
      });
    }
    return outcome;
  };

  const cache = new VerdictCache(compiled.digest, CACHE_LIMITS);
  const guardText = (text: string): TextVerdict | Promise<TextVerdict> =>
    text.length === 0 ? { action: "allow", value: text } : cache.verdict("tool", text, scanText);

  const scanText = async (text: string): Promise<TextVerdict> => {
    const request = compiled.guardRequestText(text, "tool");
    if (request.action === "block" || !compiled.credentialLeak) return request;
    const response = await compiled.guardResponseText(request.value);
    if (response.action === "block" || !request.redactions) return response;
    return { ...response, redactions: { ...request.redactions, ...response.redactions } };
  };

  return {
    async beforeCall(ctx, tool, args) {
      return audit(ctx, tool, "tool arguments", await guardJsonStrings(args, guardText));
    },
    async afterCall(ctx, tool, result) {
      return audit(ctx, tool, "tool result", await guardJsonStrings(result, guardText));
    },
    async guardContent(ctx, item, content, value) {
      return audit(ctx, item, content, await guardTextContents(value, (v) => guardJsonStrings(v, guardText)));
    },
  };
}

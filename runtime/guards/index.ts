/**
 * Guards on MCP tool calls: the hook the MCP gateway calls around every tool call with the bundle's
 * `mcp.policy` guard policy. Every guard the policy configures runs on both sides, in the same order:
 * prompt injection (tool output is the classic indirect-injection vector), PII (what a tool receives or
 * returns ends up in a prompt that leaves), then credential leak (no key goes into a tool call or comes
 * back out of one). Every decision that changes or refuses something is audited.
 *
 * Texts found clean are remembered ({@link CleanTextCache}): the guards are pure functions of the text
 * under a compiled policy, which a reload replaces together with this guard.
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
import { CleanTextCache, isCleanVerdict } from "./clean-text-cache.js";

export { CleanTextCache };

export function createToolCallGuard(config: ActiveConfig): ToolCallGuard {
  const policyId = config.bundle.mcp?.policy;
  const policy = config.bundle.guardPolicies.find((p) => p.id === policyId);
  if (!policy || (!policy.pii && !policy.promptInjection && !policy.credentialLeak)) return passThroughToolGuard;
  const compiled: CompiledGuardPolicy = compileGuardPolicy(policy);

  const audit = <T>(
    ctx: RequestContext,
    tool: string,
    stage: "arguments" | "result",
    outcome: GuardOutcome<T>,
  ): GuardOutcome<T> => {
    const base = {
      kind: "mcp" as const,
      principal: ctx.principal.subject,
      client: ctx.principal.clientId,
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
        reason: `tool ${stage} refused`,
      });
    } else if (outcome.redactions && Object.keys(outcome.redactions).length > 0) {
      ctx.audit.record({
        ...base,
        decision: "redact",
        rule: "guard",
        reason: `tool ${stage} redacted`,
        redactions: outcome.redactions,
      });
    }
    return outcome;
  };

  const clean = new CleanTextCache();
  const guardText = async (text: string): Promise<TextVerdict> => {
    if (clean.has(text)) return { action: "allow", value: text };
    const verdict = await scanText(text);
    if (isCleanVerdict(text, verdict)) clean.add(text);
    return verdict;
  };

  const scanText = async (text: string): Promise<TextVerdict> => {
    const request = compiled.guardRequestText(text, "tool");
    if (request.action === "block" || !compiled.credentialLeak) return request;
    const response = await compiled.guardResponseText(request.value);
    if (response.action === "block" || !request.redactions) return response;
    return { ...response, redactions: { ...request.redactions, ...response.redactions } };
  };

  return {
    async beforeCall(ctx, tool, args) {
      return audit(ctx, tool, "arguments", await guardJsonStrings(args, guardText));
    },
    async afterCall(ctx, tool, result) {
      return audit(ctx, tool, "result", await guardJsonStrings(result, guardText));
    },
  };
}

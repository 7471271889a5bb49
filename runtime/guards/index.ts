/**
 * Guards on MCP tool calls: the hook the MCP gateway calls around every tool call with the bundle's
 * `mcp.policy` guard policy. Arguments (written by the model, often from user or tool content) get the
 * request-side guards: prompt injection, then PII. Results (content that goes back to the model and the
 * user) get the credential-leak guard and the prompt-injection guard (tool output is the classic
 * indirect-injection vector). Every decision that changes or refuses something is audited.
 */
import { type CompiledGuardPolicy, compileGuardPolicy, guardJsonStrings } from "../../policies/guards";
import { type ActiveConfig, type GuardOutcome, type RequestContext, type ToolCallGuard, passThroughToolGuard } from "../http/types";

export function createToolCallGuard(config: ActiveConfig): ToolCallGuard {
  const policyId = config.bundle.mcp?.policy;
  const policy = config.bundle.guardPolicies.find((p) => p.id === policyId);
  if (!policy || (!policy.pii && !policy.promptInjection && !policy.credentialLeak)) return passThroughToolGuard;
  const compiled: CompiledGuardPolicy = compileGuardPolicy(policy);

  const audit = <T>(ctx: RequestContext, tool: string, stage: "arguments" | "result", outcome: GuardOutcome<T>): GuardOutcome<T> => {
    const base = { kind: "mcp" as const, principal: ctx.principal.subject, client: ctx.principal.clientId, tool, requestId: ctx.requestId, traceId: ctx.traceId, route: "mcp" };
    if (outcome.action === "block") {
      ctx.audit.record({ ...base, decision: "block", rule: `guard: ${outcome.guard}`, reason: `tool ${stage} refused` });
    } else if (outcome.redactions && Object.keys(outcome.redactions).length > 0) {
      ctx.audit.record({ ...base, decision: "redact", rule: "guard", reason: `tool ${stage} redacted`, redactions: outcome.redactions });
    }
    return outcome;
  };

  return {
    async beforeCall(ctx, tool, args) {
      if (!compiled.guardsRequests) return { action: "allow", value: args };
      const verdict = await guardJsonStrings(args, (text) => compiled.guardRequestText(text, "tool"));
      return audit(ctx, tool, "arguments", verdict);
    },
    async afterCall(ctx, tool, result) {
      const verdict = await guardJsonStrings(result, async (text) => {
        if (compiled.injection) {
          const injection = compiled.injection.apply(text);
          if (injection.action === "block") return injection;
          text = injection.value;
        }
        return compiled.guardResponseText(text);
      });
      return audit(ctx, tool, "result", verdict);
    },
  };
}

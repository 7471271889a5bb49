/**
 * One guard policy from the bundle, compiled once at load: the request-side guards (PII, prompt
 * injection) and the response-side guard (credential leak), applied in a fixed order.
 */
import { createHash } from "node:crypto";
import { type GuardPolicy, canonicalJson } from "../bundle/index.js";
import { type CredentialLeakGuard, type StreamingPii, compileCredentialLeakGuard } from "./credential-leak.js";
import { type InjectionGuard, compileInjectionGuard } from "./injection.js";
import { type PiiGuard, compilePiiGuard } from "./pii.js";
import type { TextVerdict } from "./verdict.js";

/** Who wrote a piece of content. Injection is looked for only in what users and tools wrote. */
export type ContentSource = "system" | "user" | "assistant" | "tool";

export interface CompiledGuardPolicy {
  readonly id: string;
  /** `sha256:<hex>` of the policy's canonical JSON: what its verdicts depend on, for keying remembered verdicts. */
  readonly digest: string;
  readonly pii: PiiGuard | undefined;
  readonly injection: InjectionGuard | undefined;
  readonly credentialLeak: CredentialLeakGuard | undefined;
  readonly limits: GuardPolicy["limits"];
  /** True when the request side changes or checks anything. */
  readonly guardsRequests: boolean;
  /** Request-side guards on one piece of content: injection first (on the original), then PII. */
  guardRequestText(text: string, source: ContentSource): TextVerdict;
  /**
   * True when one pass over `text`, without running any pattern, proves that {@link guardRequestText}
   * would allow it unchanged: no injection scan applies to `source` and no PII detector can match. That
   * pass costs less than hashing the text, so callers that remember verdicts ask this first.
   */
  requestTextIsPlainlyClean(text: string, source: ContentSource): boolean;
  /** True when model output is scanned: credentials, or PII with `pii.responses`. */
  readonly guardsResponses: boolean;
  /** PII to find in streamed model output (`pii.responses`), for the streaming scanner. */
  readonly streamingPii: StreamingPii | undefined;
  /** Response-side guard on complete text (model output or tool result); synchronous unless a secretlint pass is needed. */
  guardResponseText(text: string): TextVerdict | Promise<TextVerdict>;
}

export function compileGuardPolicy(policy: GuardPolicy): CompiledGuardPolicy {
  const pii = policy.pii ? compilePiiGuard(policy.pii) : undefined;
  const injection = policy.promptInjection ? compileInjectionGuard(policy.promptInjection) : undefined;
  const credentialLeak = policy.credentialLeak ? compileCredentialLeakGuard(policy.credentialLeak) : undefined;
  const piiInResponses: StreamingPii | undefined =
    pii && policy.pii?.responses ? { mode: policy.pii.mode, find: (text) => pii.find(text) } : undefined;
  return {
    id: policy.id,
    digest: `sha256:${createHash("sha256").update(canonicalJson(policy)).digest("hex")}`,
    pii,
    injection,
    credentialLeak,
    limits: policy.limits,
    guardsRequests: pii !== undefined || injection !== undefined,
    requestTextIsPlainlyClean(text, source) {
      if (injection && (source === "user" || source === "tool")) return false;
      return !pii?.mayFind(text);
    },
    guardRequestText(text, source) {
      let value = text;
      let redactions: Record<string, number> | undefined;
      const flagged: string[] = [];
      if (injection && (source === "user" || source === "tool")) {
        const verdict = injection.apply(value);
        if (verdict.action === "block") return verdict;
        value = verdict.value;
        if (verdict.redactions) redactions = { ...verdict.redactions };
        if (verdict.flagged) flagged.push(...verdict.flagged);
      }
      if (pii) {
        const verdict = pii.apply(value);
        if (verdict.action === "block") return verdict;
        value = verdict.value;
        if (verdict.redactions) redactions = { ...redactions, ...verdict.redactions };
        if (verdict.flagged) flagged.push(...verdict.flagged);
      }
      return { action: "allow", value, ...(redactions ? { redactions } : {}), ...(flagged.length ? { flagged } : {}) };
    },
    guardsResponses: credentialLeak !== undefined || piiInResponses !== undefined,
    streamingPii: piiInResponses,
    guardResponseText(text) {
      const leak: TextVerdict | Promise<TextVerdict> = credentialLeak
        ? credentialLeak.apply(text)
        : { action: "allow", value: text };
      if (!pii || !piiInResponses) return leak;
      const thenPii = (verdict: TextVerdict): TextVerdict => {
        if (verdict.action === "block") return verdict;
        const personal = pii.apply(verdict.value);
        if (personal.action === "block") return personal;
        const redactions =
          verdict.redactions || personal.redactions ? { ...verdict.redactions, ...personal.redactions } : undefined;
        const flagged = [...(verdict.flagged ?? []), ...(personal.flagged ?? [])];
        return {
          action: "allow",
          value: personal.value,
          ...(redactions ? { redactions } : {}),
          ...(flagged.length ? { flagged } : {}),
        };
      };
      return leak instanceof Promise ? leak.then(thenPii) : thenPii(leak);
    },
  };
}

/** Compiles every policy of a bundle, by id. */
export function compileGuardPolicies(policies: readonly GuardPolicy[]): ReadonlyMap<string, CompiledGuardPolicy> {
  return new Map(policies.map((policy) => [policy.id, compileGuardPolicy(policy)]));
}

import { Construct } from "constructs";
import type { BundleInput } from "../policies/bundle/index.js";
import type { IMcpUpstream } from "./refs.js";
import { TollgateChecks } from "./checks.js";
import { markKind } from "./construct-kind.js";
import { DESTRUCTIVE_TOOL_PATTERNS } from "./destructive-tools.js";

type GuardPolicyInput = BundleInput["guardPolicies"][number];
export type GuardMode = "block" | "mask" | "log";

/** Tools refused for everyone, whatever their scopes. */
export interface AlwaysBlockedTools {
  /** @default "*" (every upstream) */
  readonly upstream?: IMcpUpstream | "*";
  readonly tools: readonly string[];
  readonly reason: string;
}

export interface GuardPolicyProps {
  /** Policy id in the bundle. @default the construct id, lower-cased */
  readonly policyId?: string;
  /** PII redaction. @default { mode: "mask" } */
  readonly pii?:
    | {
        readonly mode: GuardMode;
        readonly detectors?: readonly ("email" | "phone" | "ssn" | "payment-card" | "ip-address")[];
      }
    | false;
  /** Prompt-injection detection. @default { mode: "block" } */
  readonly promptInjection?:
    { readonly mode: GuardMode; readonly sensitivity?: "strict" | "moderate" | "lenient" } | false;
  /** Credential-leak scanning of responses and tool results (streaming included). @default { mode: "block" } */
  readonly credentialLeak?: { readonly mode: GuardMode } | false;
  /** Per-user budgets (keyed by the verified `sub`). @default none */
  readonly limits?: {
    readonly windowSeconds?: number;
    readonly requestsPerWindow?: number;
    readonly tokensPerWindow?: number;
  };
  /**
   * Destructive tools: refused for everyone.
   * @default [{ upstream: "*", tools: DESTRUCTIVE_TOOL_PATTERNS, reason: "destructive" }]
   */
  readonly alwaysBlockedTools?: readonly AlwaysBlockedTools[];
}

export { DESTRUCTIVE_TOOL_PATTERNS } from "./destructive-tools.js";

/**
 * Guards (PII, prompt injection, credential leak), per-user limits and the always-blocked tool list,
 * applied to routes with `applyTo`.
 */
export class GuardPolicy extends Construct {
  public readonly policyId: string;
  public readonly alwaysBlocked: readonly AlwaysBlockedTools[];
  private readonly props: GuardPolicyProps;

  constructor(scope: Construct, id: string, props: GuardPolicyProps = {}) {
    super(scope, id);
    this.props = props;
    this.policyId = props.policyId ?? id.toLowerCase();
    this.alwaysBlocked = props.alwaysBlockedTools ?? [
      { upstream: "*", tools: DESTRUCTIVE_TOOL_PATTERNS, reason: "destructive" },
    ];
    markKind(this, "GuardPolicy");
    TollgateChecks.ensureOn(this);
  }

  /** Applies this policy to the routes (`GatewayRoute`s; the last policy applied to a route wins). */
  public applyTo(...routes: { policy: GuardPolicy | undefined }[]): void {
    for (const route of routes) route.policy = this;
  }

  /** The bundle entry. */
  public toBundle(): GuardPolicyInput {
    const p = this.props;
    const pii = p.pii === undefined ? { mode: "mask" as const } : p.pii;
    const injection = p.promptInjection === undefined ? { mode: "block" as const } : p.promptInjection;
    const leak = p.credentialLeak === undefined ? { mode: "block" as const } : p.credentialLeak;
    return {
      id: this.policyId,
      ...(pii ? { pii: { mode: pii.mode, ...(pii.detectors ? { detectors: [...pii.detectors] } : {}) } } : {}),
      ...(injection
        ? {
            promptInjection: {
              mode: injection.mode,
              ...(injection.sensitivity ? { sensitivity: injection.sensitivity } : {}),
            },
          }
        : {}),
      ...(leak ? { credentialLeak: { mode: leak.mode } } : {}),
      ...(p.limits
        ? {
            limits: {
              windowSeconds: p.limits.windowSeconds ?? 60,
              ...pick(p.limits, "requestsPerWindow", "tokensPerWindow"),
            },
          }
        : {}),
    };
  }
}

function pick<T extends object, K extends keyof T>(obj: T, ...keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const key of keys) if (obj[key] !== undefined) out[key] = obj[key];
  return out;
}

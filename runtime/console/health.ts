/**
 * The upstreams page's data from what an active runtime already has: the issuer's keys and the readiness
 * probes of the required upstreams (the same reasons `/readyz` gives), plus the LLM providers failover is
 * skipping, when the caller can say which.
 */
import type { HealthView, UpstreamStatusView } from "./deps.js";

/** The parts of an active runtime the view reads (structural, so the runtime needs no console import). */
export interface HealthSources {
  readonly verifier: { readonly keys: { readonly loaded: boolean } };
  readonly readiness: {
    states(): Promise<
      readonly {
        readonly id: string;
        readonly kind: "mcp" | "llm";
        readonly state: "up" | "down" | "unknown";
        readonly detail?: string;
      }[]
    >;
  };
}

/**
 * @param coolingDown LLM providers failover skips now (`route`, `provider`, until when); they do not make the
 *   replica unready (failover still has somewhere to go), but an operator wants to see them.
 */
export async function healthOf(
  runtime: HealthSources,
  coolingDown: readonly { readonly route: string; readonly provider: string; readonly until: Date }[] = [],
): Promise<HealthView> {
  const required = await runtime.readiness.states();
  const reasons = [
    ...(runtime.verifier.keys.loaded ? [] : ["issuer keys not fetched"]),
    ...required.flatMap((u) => (u.state === "up" ? [] : [`${u.kind} upstream "${u.id}" ${u.state}: ${u.detail}`])),
  ];
  const upstreams: UpstreamStatusView[] = [
    ...required.map((u) => ({ id: u.id, kind: u.kind, state: u.state, ...(u.detail ? { detail: u.detail } : {}) })),
    ...coolingDown.map((c) => ({
      id: c.route,
      kind: "llm" as const,
      provider: c.provider,
      state: "cooling-down" as const,
      until: c.until,
    })),
  ];
  return { ready: reasons.length === 0, reasons, upstreams };
}

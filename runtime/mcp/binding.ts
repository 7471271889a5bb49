/**
 * Who an MCP session belongs to: the verified (issuer, subject, client, agent) that opened it. A request whose
 * principal differs is refused, on every replica: alice through an agent does not continue alice's own session,
 * nor one of hers through another agent.
 */
import type { Principal } from "../http/types.js";

export interface SessionBinding {
  readonly issuer: string;
  readonly subject: string;
  readonly clientId: string | undefined;
  /** The bundle's agent acting in the session (`agents[].id`), if any. */
  readonly agent?: string;
}

export function bindingOf(principal: Principal): SessionBinding {
  const { issuer, subject, clientId, agent } = principal;
  return agent === undefined ? { issuer, subject, clientId } : { issuer, subject, clientId, agent };
}

export function sameBinding(a: SessionBinding, b: SessionBinding): boolean {
  return a.issuer === b.issuer && a.subject === b.subject && a.clientId === b.clientId && a.agent === b.agent;
}

/** One string per binding, distinct for distinct bindings (a map key). */
export function bindingKey(binding: SessionBinding): string {
  return JSON.stringify([binding.issuer, binding.subject, binding.clientId ?? null, binding.agent ?? null]);
}

/**
 * Who an MCP session belongs to: the verified (issuer, subject, client) that opened it. A request whose
 * principal differs is refused, on every replica.
 */
import type { Principal } from "../http/types.js";

export interface SessionBinding {
  readonly issuer: string;
  readonly subject: string;
  readonly clientId: string | undefined;
}

export function bindingOf(principal: Principal): SessionBinding {
  return { issuer: principal.issuer, subject: principal.subject, clientId: principal.clientId };
}

export function sameBinding(a: SessionBinding, b: SessionBinding): boolean {
  return a.issuer === b.issuer && a.subject === b.subject && a.clientId === b.clientId;
}

/** One string per binding, distinct for distinct bindings (a map key). */
export function bindingKey(binding: SessionBinding): string {
  return JSON.stringify([binding.issuer, binding.subject, binding.clientId ?? null]);
}

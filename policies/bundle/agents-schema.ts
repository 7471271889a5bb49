/**
 * The bundle's `agents` section: the agents of the environment as identities of their own. Each agent has
 * its own OAuth client (an Okta service app); a token is the agent's when its client claim names that client
 * (the agent alone, client credentials) or when it carries the agent as actor (RFC 8693 `act`, a token the
 * agent exchanged for a user). Acting for a user, an agent holds the intersection of the user's scopes and
 * its own `scopes`; alone, only its own.
 */
import { z } from "zod";
import { type BundleMode, applyTimeField, id, text } from "./fields.js";

export function agentsSchema(mode: BundleMode) {
  const applyTime = applyTimeField(mode);
  const Agent = z.strictObject({
    /** Stable id: the `agent` of audit events, limit and budget keys, and metric labels. */
    id: id(),
    /** The client id of the agent's own OAuth client (apply-time: Okta assigns it). */
    clientId: applyTime(text()),
    /** Every scope the agent may exercise, alone or for a user: its ceiling. */
    scopes: z.array(text()).min(1, { error: "an agent needs at least one scope" }),
  });
  return z.array(Agent).default([]);
}

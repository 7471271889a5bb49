/**
 * Acting for a user: who is behind a request once the bundle declares agents (`agents[]`), and which scopes
 * the request holds. Pure, so the gateway and `tollgate explain` give the same answer.
 *
 * Three ways an agent shows up, decided on verified tokens only:
 * - alone: a client-credentials token of the agent's client (client claim = `agents[].clientId`, `sub` = that
 *   client) → the agent's own grants: token scopes ∩ the agent's ceiling;
 * - exchanged (RFC 8693): `sub` = the user, `act.sub` = the agent's client (the outermost `act` is the current
 *   actor; a nested `act` is history) → token scopes ∩ the agent's ceiling;
 * - user token passed through: the user's token plus the agent's own (alone) token beside it → user scopes ∩
 *   agent token scopes ∩ the agent's ceiling.
 * Any other token is a user's own client, as before agents existed. A bundle without agents turns all of this
 * off (an `act` is then not read), so declaring the first agent is what opts a gateway in.
 */

/** What the decision reads of one verified token. */
export interface TokenIdentity {
  readonly subject: string;
  /** The client claim (`cid`/`client_id`). */
  readonly clientId: string | undefined;
  readonly scopes: readonly string[];
  /** `act.sub` of the outermost `act`, when the token carries one. */
  readonly actor?: string | undefined;
}

/** One declared agent, as the bundle's `agents[]` holds it. */
export interface AgentDeclaration {
  readonly id: string;
  readonly clientId: string;
  readonly scopes: readonly string[];
}

/** The bundle's agents, indexed once at load. */
export interface AgentDirectory {
  readonly byClientId: ReadonlyMap<string, { readonly id: string; readonly scopes: ReadonlySet<string> }>;
}

export function compileAgents(agents: readonly AgentDeclaration[]): AgentDirectory {
  return {
    byClientId: new Map(agents.map((a) => [a.clientId, { id: a.id, scopes: new Set(a.scopes) }])),
  };
}

/** How an agent came to act for the request's subject. */
export type Delegation = "token-exchange" | "user-token";

export type ActingFor =
  /** No agent: the token's own subject and scopes, unchanged. */
  | { readonly ok: true; readonly agent: undefined }
  | {
      readonly ok: true;
      /** `agents[].id`. */
      readonly agent: string;
      /** The effective scopes (the intersection). */
      readonly scopes: readonly string[];
      /** Present when the agent acts for a user (the subject); absent when it acts alone. */
      readonly delegation: Delegation | undefined;
    }
  /** Refused: `reason` names the rule and is safe to send and log (it holds no token). */
  | { readonly ok: false; readonly reason: string; readonly error: "invalid_token" | "invalid_request" };

const NO_AGENT: ActingFor = { ok: true, agent: undefined };

const refuse = (reason: string, error: "invalid_token" | "invalid_request" = "invalid_token"): ActingFor => ({
  ok: false,
  reason,
  error,
});

/** `scopes` kept in order, minus any not in every one of `within`. */
function intersect(scopes: readonly string[], ...within: ReadonlySet<string>[]): string[] {
  return scopes.filter((s) => within.every((set) => set.has(s)));
}

/** Whether `token` is an agent's own client-credentials token: its client is the agent and so is its subject. */
const isOwnToken = (token: TokenIdentity) => token.clientId !== undefined && token.subject === token.clientId;

/**
 * The identity of a request: `token` from `Authorization`, `agentToken` from `Tollgate-Agent-Token` (already
 * verified with the same verifier), `directory` from the bundle's agents.
 */
export function decideActingFor(
  directory: AgentDirectory,
  token: TokenIdentity,
  agentToken?: TokenIdentity,
): ActingFor {
  const agents = directory.byClientId;
  if (agents.size === 0)
    return agentToken ? refuse("agent token: the gateway declares no agents", "invalid_request") : NO_AGENT;

  const ownAgent = token.clientId === undefined ? undefined : agents.get(token.clientId);
  if (token.actor !== undefined) {
    if (agentToken)
      return refuse("an exchanged token already names its agent (act): send no agent token", "invalid_request");
    const actor = agents.get(token.actor);
    if (!actor) return refuse("the token's actor (act) is not a declared agent");
    return {
      ok: true,
      agent: actor.id,
      scopes: intersect(token.scopes, actor.scopes),
      delegation: "token-exchange",
    };
  }

  if (ownAgent) {
    // An agent's client is a service app: its tokens are its own (sub = client). One naming a user came from a
    // flow the agent has no business running (or a client shared with a user app): it is not guessed at.
    if (!isOwnToken(token)) return refuse("a token of an agent's client must name the agent as its subject (sub)");
    if (agentToken) return refuse("the user token is an agent's own token");
    return { ok: true, agent: ownAgent.id, scopes: intersect(token.scopes, ownAgent.scopes), delegation: undefined };
  }

  if (!agentToken) return NO_AGENT;
  if (agentToken.actor !== undefined) return refuse("agent token: an exchanged token cannot be an agent token");
  const agent = agentToken.clientId === undefined ? undefined : agents.get(agentToken.clientId);
  if (!agent) return refuse("agent token: its client is not a declared agent");
  if (!isOwnToken(agentToken)) return refuse("agent token: not the agent's own token (sub must be the agent's client)");
  return {
    ok: true,
    agent: agent.id,
    scopes: intersect(token.scopes, new Set(agentToken.scopes), agent.scopes),
    delegation: "user-token",
  };
}

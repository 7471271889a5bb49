/**
 * The users of the agent workload (bench/workload/agent.ts), each with a token of its own: one
 * client-credentials client per user on the benchmark's authorization server, so every token has its
 * own `sub` and the gateway verifies, caches and budgets each one separately.
 */
import type { AuthClient, AuthServer } from "../../examples/local-platform/auth-server.js";
import type { AgentRequest } from "../workload/agent.js";

/** How many users the agent workload runs (`BENCH_AGENT_USERS`, default 64). */
export const AGENT_USERS = Number(process.env.BENCH_AGENT_USERS ?? 64);

/** The authorization server's clients for `users` agent users. */
export function agentClients(users: number, scopes: readonly string[]): AuthClient[] {
  return Array.from({ length: users }, (_, i) => ({
    clientId: `agent-${i}`,
    clientSecret: `agent-${i}-secret`,
    grants: ["client_credentials"],
    scopes,
  }));
}

/** An access token for each user (client credentials of its own client). */
export async function agentTokens(as: AuthServer, users: number, scopes: readonly string[]): Promise<string[]> {
  const tokens: string[] = [];
  for (let i = 0; i < users; i++) {
    const { access_token: token } = await as.clientCredentials({
      clientId: `agent-${i}`,
      clientSecret: `agent-${i}-secret`,
      scopes,
    });
    tokens.push(token);
  }
  return tokens;
}

/** Request headers for each user, with that user's token. */
export async function agentHeaders(
  as: AuthServer,
  users: number,
  scopes: readonly string[],
): Promise<Record<string, string>[]> {
  return (await agentTokens(as, users, scopes)).map((token) => ({
    "content-type": "application/json",
    authorization: `Bearer ${token}`,
  }));
}

/** One request to send: the body and the headers of the user sending it. */
export interface Call {
  readonly payload: string;
  readonly headers: Record<string, string>;
}

/** The workload's requests as calls, each with its user's headers. */
export function agentCalls(requests: readonly AgentRequest[], headers: readonly Record<string, string>[]): Call[] {
  return requests.map((request) => {
    const userHeaders = headers[request.user];
    if (!userHeaders) throw new Error(`user ${request.user} has no token: mint one per workload user`);
    return { payload: request.body, headers: userHeaders };
  });
}

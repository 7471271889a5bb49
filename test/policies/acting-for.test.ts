import { describe, expect, it } from "vitest";
import { type TokenIdentity, compileAgents, decideActingFor } from "../../policies/identity/acting-for.js";

const agents = compileAgents([
  { id: "triage", clientId: "triage-client", scopes: ["mcp:read"] },
  { id: "coding", clientId: "coding-client", scopes: ["mcp:read", "mcp:write"] },
]);

const alice: TokenIdentity = { subject: "alice", clientId: "cli", scopes: ["mcp:read", "mcp:write"] };
const own = (clientId: string, scopes: string[]): TokenIdentity => ({ subject: clientId, clientId, scopes });

describe("acting for a user (policies/identity)", () => {
  it("a user's own client is no agent: its token is decided as before", () => {
    expect(decideActingFor(agents, alice)).toEqual({ ok: true, agent: undefined });
  });

  it("an agent alone holds its token's scopes within its ceiling", () => {
    expect(decideActingFor(agents, own("triage-client", ["mcp:read", "mcp:write"]))).toEqual({
      ok: true,
      agent: "triage",
      scopes: ["mcp:read"],
      delegation: undefined,
    });
  });

  it("an exchanged token (act) holds the user's scopes within the acting agent's ceiling", () => {
    const exchanged = { ...alice, clientId: "triage-client", actor: "triage-client" };
    expect(decideActingFor(agents, exchanged)).toEqual({
      ok: true,
      agent: "triage",
      scopes: ["mcp:read"],
      delegation: "token-exchange",
    });
  });

  it("the outermost act decides, whatever client minted the token", () => {
    expect(decideActingFor(agents, { ...alice, clientId: "triage-client", actor: "coding-client" })).toMatchObject({
      agent: "coding",
      scopes: ["mcp:read", "mcp:write"],
    });
  });

  it("a user token with the agent's own token beside it holds the intersection of all three", () => {
    expect(decideActingFor(agents, alice, own("coding-client", ["mcp:write"]))).toEqual({
      ok: true,
      agent: "coding",
      scopes: ["mcp:write"],
      delegation: "user-token",
    });
    expect(decideActingFor(agents, alice, own("triage-client", ["mcp:read"]))).toMatchObject({ scopes: ["mcp:read"] });
  });

  it("refuses an act naming no declared agent", () => {
    expect(decideActingFor(agents, { ...alice, actor: "stranger" })).toMatchObject({
      ok: false,
      error: "invalid_token",
      reason: "the token's actor (act) is not a declared agent",
    });
  });

  it("refuses an agent token of a client that is not a declared agent", () => {
    expect(decideActingFor(agents, alice, own("cli", ["mcp:read"]))).toMatchObject({ ok: false });
  });

  it("refuses an agent token that is a user's token of the agent's client", () => {
    const userTokenOfAgent = { subject: "alice", clientId: "triage-client", scopes: ["mcp:read"] };
    expect(decideActingFor(agents, alice, userTokenOfAgent)).toMatchObject({ ok: false });
    expect(decideActingFor(agents, userTokenOfAgent)).toMatchObject({ ok: false });
  });

  it("refuses an agent's own token presented as the user", () => {
    const triage = own("triage-client", ["mcp:read"]);
    expect(decideActingFor(agents, triage, triage)).toMatchObject({
      ok: false,
      reason: "the user token is an agent's own token",
    });
  });

  it("refuses an exchanged token as the agent token, and an agent token beside an exchanged token", () => {
    const exchanged = { ...alice, clientId: "triage-client", actor: "triage-client" };
    expect(decideActingFor(agents, alice, exchanged)).toMatchObject({ ok: false });
    expect(decideActingFor(agents, exchanged, own("coding-client", ["mcp:read"]))).toMatchObject({
      ok: false,
      error: "invalid_request",
    });
  });

  it("without declared agents reads no act, and refuses an agent token rather than ignore it", () => {
    const none = compileAgents([]);
    expect(decideActingFor(none, { ...alice, actor: "anyone" })).toEqual({ ok: true, agent: undefined });
    expect(decideActingFor(none, alice, own("triage-client", ["mcp:read"]))).toMatchObject({ ok: false });
  });
});

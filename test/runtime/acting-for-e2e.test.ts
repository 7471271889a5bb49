/**
 * Acting for a user, end to end (issue 19): the oidc-provider Okta stand-in, the real gateway with two declared
 * agents — `triage` (read-only ceiling) and `coding` (read and write) — each with its own private_key_jwt client,
 * a real MCP upstream, the official MCP SDK client and the openai SDK.
 *
 * The agents' clients at the authorization server may ask for read AND write: the gateway's ceiling is what holds
 * `triage` to reading, whatever its Okta app was granted. The three flows: an agent alone (its own client
 * credentials token), an exchanged token (RFC 8693: sub = the user, act = the agent), and the user's token passed
 * through with the agent's own in `Tollgate-Agent-Token`. And a per-agent spend budget hitting its cap through the
 * openai and @anthropic-ai/sdk clients, whichever user the agent acts for.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import Anthropic from "@anthropic-ai/sdk";
import { type JWK, SignJWT, decodeJwt, exportJWK, generateKeyPair, importJWK } from "jose";
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type AuthServer, startAuthServer } from "../../examples/local-platform/auth-server.js";
import { type LlmUpstream, startLlmUpstream } from "../../examples/local-platform/llm-upstream.js";
import type { BundleInput } from "../../policies/bundle/index.js";
import { ClientAssertionSigner } from "../../runtime/mcp/credentials.js";
import {
  TEST_CLIENTS,
  type TestPlatform,
  mcpHeaders,
  initializeRequest,
  startTestPlatform,
} from "../support/gateway.js";
import { type HttpUpstream, startHttpUpstream } from "./mcp-fixtures.js";

const TRIAGE = "triage-client";
const CODING = "coding-client";
const READ_WRITE = ["mcp:read", "mcp:write"];
/** The per-agent spend budget of the `metered` route, and its cap: three answers of the stand-in (see below). */
const TRIAGE_BUDGET = "triage-metered";
const TRIAGE_CAP_USD = 0.03;

interface AgentKey {
  readonly privateJwk: JWK;
  readonly publicJwk: JWK;
}

async function agentKey(kid: string): Promise<AgentKey> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  return {
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: "ES256", use: "sig" },
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" },
  };
}

let web: HttpUpstream;
let llm: LlmUpstream;
let platform: TestPlatform;
const keys: Record<string, AgentKey> = {};
const clients: Client[] = [];

/** A fresh RFC 7523 assertion for the agent's client (never reused: the server refuses a replayed jti). */
const assertion = (clientId: string, as: AuthServer = platform.as) =>
  new ClientAssertionSigner(JSON.stringify(keys[clientId]?.privateJwk), {}, "test").sign(clientId, as.tokenEndpoint);

/** The agent's own token (client credentials). */
async function agentToken(clientId: string, scopes: readonly string[]): Promise<string> {
  return (await platform.as.clientCredentials({ clientId, clientAssertion: await assertion(clientId), scopes }))
    .access_token;
}

/** The user's token exchanged by the agent for one for the gateway: sub = the user, act = the agent. */
async function exchanged(userToken: string, clientId: string): Promise<string> {
  return (
    await platform.as.exchangeToken({
      subjectToken: userToken,
      clientId,
      clientAssertion: await assertion(clientId),
      audience: platform.url,
    })
  ).access_token;
}

async function connect(token: string, agent?: string): Promise<Client> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (agent) headers["tollgate-agent-token"] = agent;
  const transport = new StreamableHTTPClientTransport(new URL(platform.mcpUrl), { requestInit: { headers } });
  const client = new Client({ name: "acting-for-agent", version: "1.0.0" });
  await client.connect(transport);
  clients.push(client);
  return client;
}

const toolNames = async (client: Client) => (await client.listTools()).tools.map((t) => t.name).sort();
const textOf = (result: Awaited<ReturnType<Client["callTool"]>>) =>
  (result.content as { type: string; text?: string }[]).map((c) => c.text ?? "").join("");

/** A raw MCP `initialize` with these headers: the gateway's answer, for refusals the SDK would hide. */
const initialize = (headers: Record<string, string>) =>
  fetch(platform.mcpUrl, { method: "POST", headers: { ...mcpHeaders(), ...headers }, body: initializeRequest() });

const auditOf = (tool: string) => platform.audit.filter((e) => e.tool === tool);

beforeAll(async () => {
  keys[TRIAGE] = await agentKey("triage-1");
  keys[CODING] = await agentKey("coding-1");
  web = await startHttpUpstream();
  llm = await startLlmUpstream();
  platform = await startTestPlatform({
    extraClients: [TRIAGE, CODING].map((clientId) => ({
      clientId,
      jwks: { keys: [keys[clientId]!.publicJwk] },
      grants: ["client_credentials", "token_exchange"],
      // Broader than the triage agent's ceiling on purpose: the gateway's ceiling must hold.
      scopes: READ_WRITE,
    })),
    bundle: (bundle): BundleInput => ({
      ...bundle,
      agents: [
        { id: "triage", clientId: TRIAGE, scopes: ["mcp:read"] },
        { id: "coding", clientId: CODING, scopes: READ_WRITE },
      ],
      llm: {
        routes: [
          {
            id: "openai",
            pathPrefix: "/openai",
            policy: "llm",
            providers: [{ id: "openai", kind: "openai", baseUrl: `${llm.url}/v1`, apiKey: { env: "OPENAI_API_KEY" } }],
          },
          {
            id: "metered",
            pathPrefix: "/metered",
            policy: "default",
            providers: [{ id: "openai", kind: "openai", baseUrl: `${llm.url}/v1`, apiKey: { env: "OPENAI_API_KEY" } }],
          },
        ],
      },
      spend: {
        // Round prices, so each answer's cost follows from the stand-in's token counts: $1000 / M input tokens
        // (0.001 $ a token), $2000 / M output tokens.
        prices: {
          "gpt-4o-mini": { input: 1000, output: 2000 },
          "claude-haiku-4-5": { input: 1000, output: 2000 },
        },
        budgets: [
          { id: TRIAGE_BUDGET, per: "agent", agent: "triage", route: "metered", window: "day", maxUsd: TRIAGE_CAP_USD },
        ],
      },
      mcp: {
        path: "/mcp",
        policy: "default",
        upstreams: [{ id: "web", transport: { type: "streamable-http", url: web.url } }],
        grants: [
          { scope: "mcp:read", upstream: "web", tools: ["get_*", "whoami"] },
          { scope: "mcp:write", upstream: "web", tools: ["set_*"] },
        ],
        deny: [],
        alwaysBlocked: [],
      },
      guardPolicies: [{ id: "default" }, { id: "llm", limits: { windowSeconds: 3600, requestsPerWindow: 3 } }],
    }),
  });
}, 60_000);

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
});

afterAll(async () => {
  await platform?.close();
  await web?.close();
  await llm?.close();
});

describe("an agent acting for a user holds the intersection of both", () => {
  it("exchanged token: alice can write, triage cannot, so triage for alice sees and calls no write tool", async () => {
    const alice = await platform.userToken("alice", READ_WRITE);
    const token = await exchanged(alice, TRIAGE);
    expect(decodeJwt(token)).toMatchObject({ sub: "alice", act: { sub: TRIAGE }, scp: READ_WRITE });

    const client = await connect(token);
    expect(await toolNames(client)).toEqual(["web__get_time", "web__whoami"]);
    await expect(client.callTool({ name: "web__set_value", arguments: { value: "x" } })).rejects.toMatchObject({
      code: 403,
    });
    expect(auditOf("web__set_value").at(-1)).toMatchObject({
      decision: "deny",
      status: 403,
      principal: "alice",
      agent: "triage",
      actingFor: "alice",
      delegation: "token-exchange",
    });
    expect(textOf(await client.callTool({ name: "web__get_time", arguments: {} }))).toContain("1970");
  });

  it("exchanged token: the coding agent for alice may write, because both may", async () => {
    const client = await connect(await exchanged(await platform.userToken("alice", READ_WRITE), CODING));
    expect(await toolNames(client)).toContain("web__set_value");
    expect(textOf(await client.callTool({ name: "web__set_value", arguments: { value: "v1" } }))).toBe("stored v1");
    expect(auditOf("web__set_value").at(-1)).toMatchObject({
      decision: "allow",
      principal: "alice",
      agent: "coding",
      actingFor: "alice",
    });
  });

  it("exchanged token: the coding agent for a read-only bob cannot write (the user's side of the intersection)", async () => {
    const client = await connect(await exchanged(await platform.userToken("bob", ["mcp:read"]), CODING));
    expect(await toolNames(client)).toEqual(["web__get_time", "web__whoami"]);
  });

  it("user token passed through: triage's own token beside alice's gives reading only", async () => {
    const alice = await platform.userToken("alice", READ_WRITE);
    const before = web.requestHeaders.length;
    const client = await connect(alice, await agentToken(TRIAGE, READ_WRITE));
    expect(await toolNames(client)).toEqual(["web__get_time", "web__whoami"]);
    await expect(client.callTool({ name: "web__set_value", arguments: { value: "x" } })).rejects.toMatchObject({
      code: 403,
    });
    expect(auditOf("web__set_value").at(-1)).toMatchObject({
      principal: "alice",
      agent: "triage",
      actingFor: "alice",
      delegation: "user-token",
    });
    await client.callTool({ name: "web__get_time", arguments: {} });
    // Neither token reaches the upstream, and neither does the agent header.
    const sent = web.requestHeaders.slice(before);
    expect(sent.length).toBeGreaterThan(0);
    for (const headers of sent) {
      expect(headers["tollgate-agent-token"]).toBeUndefined();
      expect(headers.authorization).toBeUndefined();
    }
  });

  it("user token passed through: the coding agent's token beside alice's may write", async () => {
    const client = await connect(
      await platform.userToken("alice", READ_WRITE),
      `Bearer ${await agentToken(CODING, READ_WRITE)}`,
    );
    expect(textOf(await client.callTool({ name: "web__set_value", arguments: { value: "v2" } }))).toBe("stored v2");
  });

  it("user token passed through: the agent token's own scopes narrow it too", async () => {
    const client = await connect(await platform.userToken("alice", READ_WRITE), await agentToken(CODING, ["mcp:read"]));
    expect(await toolNames(client)).toEqual(["web__get_time", "web__whoami"]);
  });
});

describe("an agent alone holds only its own grants", () => {
  it("coding alone, without a write scope in its token, is refused the write tool", async () => {
    const client = await connect(await agentToken(CODING, ["mcp:read"]));
    expect(await toolNames(client)).toEqual(["web__get_time", "web__whoami"]);
    await expect(client.callTool({ name: "web__set_value", arguments: { value: "x" } })).rejects.toMatchObject({
      code: 403,
    });
    expect(auditOf("web__set_value").at(-1)).toMatchObject({ decision: "deny", principal: CODING, agent: "coding" });
    expect(auditOf("web__set_value").at(-1)?.actingFor).toBeUndefined();
  });

  it("triage alone, with a write scope from its Okta app, is still held to its ceiling", async () => {
    const client = await connect(await agentToken(TRIAGE, READ_WRITE));
    expect(await toolNames(client)).toEqual(["web__get_time", "web__whoami"]);
  });

  it("a user's own client is no agent: alice alone writes as before", async () => {
    const client = await connect(await platform.userToken("alice", READ_WRITE));
    expect(textOf(await client.callTool({ name: "web__set_value", arguments: { value: "v3" } }))).toBe("stored v3");
    expect(auditOf("web__set_value").at(-1)?.agent).toBeUndefined();
  });
});

describe("per-agent limits (openai SDK on an LLM route, 3 requests per window)", () => {
  const ask = (userToken: string, agent: string) =>
    new OpenAI({
      baseURL: `${platform.url}/openai/v1`,
      apiKey: userToken,
      maxRetries: 0,
      defaultHeaders: { "tollgate-agent-token": agent },
    }).chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });

  it("an agent's budget is shared by its users, and each user's budget by their agents", async () => {
    const [carol, dave] = await Promise.all([
      platform.userToken("alice", ["mcp:read"]),
      platform.userToken("bob", ["mcp:read"]),
    ]);
    const triage = await agentToken(TRIAGE, ["mcp:read"]);
    const coding = await agentToken(CODING, ["mcp:read"]);
    await ask(carol, triage);
    await ask(carol, triage);
    await ask(dave, triage);
    // triage has spent its 3 requests (two for alice, one for bob): alice has not, yet triage is refused.
    await expect(ask(carol, triage)).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    const refused = platform.audit.filter((e) => e.kind === "llm" && e.decision === "rate-limited").at(-1);
    expect(refused).toMatchObject({ principal: "alice", agent: "triage", actingFor: "alice" });
    // Through coding, alice still has one request of her own left; then her own budget is spent.
    await ask(carol, coding);
    await expect(ask(carol, coding)).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    // bob through coding: his budget (1 spent) and coding's (1 spent) both have room.
    await ask(dave, coding);
    const served = platform.audit.filter((e) => e.kind === "llm" && e.decision === "allow");
    expect(served.map((e) => `${e.principal}/${e.agent}`)).toEqual([
      "alice/triage",
      "alice/triage",
      "bob/triage",
      "alice/coding",
      "bob/coding",
    ]);
    // Neither token, nor the agent header, reaches the provider.
    for (const request of llm.requests) {
      expect(request.headers["tollgate-agent-token"]).toBeUndefined();
      expect(JSON.stringify(request.headers)).not.toContain(triage.slice(-20));
    }
  });
});

describe("a per-agent spend budget (openai and Anthropic SDKs on the metered route)", () => {
  /** The openai SDK as the agent acting for a user: `token` is the user's (with `agent` beside it) or exchanged. */
  const openaiAs = (token: string, agent?: string) =>
    new OpenAI({
      baseURL: `${platform.url}/metered/v1`,
      apiKey: token,
      maxRetries: 0,
      ...(agent ? { defaultHeaders: { "tollgate-agent-token": agent } } : {}),
    });
  const chat = (client: OpenAI) =>
    client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });
  const anthropicAs = (userToken: string, agent: string) =>
    new Anthropic({
      baseURL: `${platform.url}/metered`,
      authToken: userToken,
      apiKey: null,
      maxRetries: 0,
      defaultHeaders: { "tollgate-agent-token": agent },
    });
  const message = (client: Anthropic) =>
    client.messages.create({ model: "claude-haiku-4-5", max_tokens: 64, messages: [{ role: "user", content: "hi" }] });
  const failure = <E>(call: Promise<unknown>) =>
    call.then(
      () => undefined,
      (error: unknown) => error as E,
    );
  const metered = () => platform.audit.filter((e) => e.kind === "llm" && e.route === "metered");

  it("triage's budget, spent for alice and bob together, refuses both with 429 naming it; coding and alice alone go on", async () => {
    const [alice, bob] = await Promise.all([
      platform.userToken("alice", ["mcp:read"]),
      platform.userToken("bob", ["mcp:read"]),
    ]);
    const triage = await agentToken(TRIAGE, ["mcp:read"]);
    const triageForBob = await exchanged(bob, TRIAGE);

    // The stand-in counts ~4 characters a token: `[{"role":"user","content":"hi"}]` is 8 input tokens, "hi" 1
    // output token, so each answer costs 8 × 0.001 + 1 × 0.002 = 0.01 $, through either SDK.
    await chat(openaiAs(alice, triage)); // alice's token with triage's beside it
    await chat(openaiAs(triageForBob)); // bob's token exchanged by triage (act = triage)
    await message(anthropicAs(alice, triage)); // the Anthropic SDK, same route and budget
    expect(metered().map((e) => [e.principal, e.agent, e.decision, e.costUsd])).toEqual([
      ["alice", "triage", "allow", 0.01],
      ["bob", "triage", "allow", 0.01],
      ["alice", "triage", "allow", 0.01],
    ]);

    const upstreamCalls = llm.requests.length;
    const refusedBob = await failure<InstanceType<typeof OpenAI.APIError>>(chat(openaiAs(triageForBob)));
    expect(refusedBob).toBeInstanceOf(OpenAI.RateLimitError);
    expect(refusedBob?.code).toBe("spend_budget_exceeded");
    expect(refusedBob?.message).toContain(`spend budget "${TRIAGE_BUDGET}"`);
    expect((refusedBob?.error as Record<string, unknown>).budget).toMatchObject({
      id: TRIAGE_BUDGET,
      per: "agent",
      agent: "triage",
      route: "metered",
      window: "day",
      spentUsd: 0.03,
      maxUsd: TRIAGE_CAP_USD,
    });
    const refusedAlice = await failure<InstanceType<typeof Anthropic.APIError>>(message(anthropicAs(alice, triage)));
    expect(refusedAlice).toBeInstanceOf(Anthropic.RateLimitError);
    expect(refusedAlice?.error).toMatchObject({
      type: "error",
      error: {
        type: "rate_limit_error",
        code: "spend_budget_exceeded",
        budget: { id: TRIAGE_BUDGET, per: "agent", agent: "triage", spentUsd: 0.03, maxUsd: TRIAGE_CAP_USD },
      },
    });
    expect(llm.requests.length).toBe(upstreamCalls); // both refused before the call

    // The budget is triage's, not alice's: alice through coding, and alice alone, are served (and priced).
    await chat(openaiAs(alice, await agentToken(CODING, ["mcp:read"])));
    await message(anthropicAs(alice, await agentToken(CODING, ["mcp:read"])));
    await chat(openaiAs(alice));
    expect(
      metered()
        .slice(3)
        .map((e) => [e.principal, e.agent ?? "-", e.decision, e.rule ?? "-", e.costUsd]),
    ).toEqual([
      ["bob", "triage", "rate-limited", `spend: ${TRIAGE_BUDGET}`, undefined],
      ["alice", "triage", "rate-limited", `spend: ${TRIAGE_BUDGET}`, undefined],
      ["alice", "coding", "allow", "-", 0.01],
      ["alice", "coding", "allow", "-", 0.01],
      ["alice", "-", "allow", "-", 0.01],
    ]);
    expect(
      metered()
        .filter((e) => e.decision === "rate-limited")
        .every((e) => e.status === 429),
    ).toBe(true);
  });
});

describe("attacks on acting-for", () => {
  const refusedWith = async (headers: Record<string, string>) => {
    const response = await initialize(headers);
    await response.arrayBuffer();
    return { status: response.status, challenge: response.headers.get("www-authenticate") ?? "" };
  };

  it("a forged agent token (right claims, attacker's key) is a 401, not a quiet fall back to the user alone", async () => {
    const alice = await platform.userToken("alice", READ_WRITE);
    const genuine = decodeJwt(await agentToken(CODING, READ_WRITE));
    const attacker = await agentKey("attacker");
    const forged = await new SignJWT(genuine)
      .setProtectedHeader({ alg: "ES256", kid: "attacker" })
      .sign(await importJWK(attacker.privateJwk, "ES256"));
    const refusal = await refusedWith({ authorization: `Bearer ${alice}`, "tollgate-agent-token": forged });
    expect(refusal.status).toBe(401);
    expect(refusal.challenge).toContain('error="invalid_token"');
    expect(refusal.challenge).toContain("agent token:");
  });

  it("an agent token from another issuer (same client id, same audience) is a 401", async () => {
    const other = await startAuthServer({
      audience: platform.url,
      scopes: READ_WRITE,
      clients: [{ clientId: CODING, jwks: { keys: [keys[CODING]!.publicJwk] }, grants: ["client_credentials"] }],
    });
    try {
      const foreign = await other.clientCredentials({
        clientId: CODING,
        clientAssertion: await assertion(CODING, other),
        scopes: READ_WRITE,
      });
      const alice = await platform.userToken("alice", READ_WRITE);
      const passed = await refusedWith({
        authorization: `Bearer ${alice}`,
        "tollgate-agent-token": foreign.access_token,
      });
      expect(passed).toMatchObject({ status: 401 });
      expect(passed.challenge).toContain("agent token: ");
      expect((await refusedWith({ authorization: `Bearer ${foreign.access_token}` })).status).toBe(401);
    } finally {
      await other.close();
    }
  });

  it("an exchanged token whose act names no declared agent is a 401", async () => {
    const alice = await platform.userToken("alice", READ_WRITE);
    const { clientId, clientSecret } = TEST_CLIENTS.delegate;
    const token = (
      await platform.as.exchangeToken({ subjectToken: alice, clientId, clientSecret, audience: platform.url })
    ).access_token;
    expect(decodeJwt(token).act).toEqual({ sub: clientId });
    const refusal = await refusedWith({ authorization: `Bearer ${token}` });
    expect(refusal.status).toBe(401);
    expect(refusal.challenge).toContain("not a declared agent");
  });

  it("an agent's own token replayed as the user is a 401", async () => {
    const triage = await agentToken(TRIAGE, ["mcp:read"]);
    const refusal = await refusedWith({ authorization: `Bearer ${triage}`, "tollgate-agent-token": triage });
    expect(refusal.status).toBe(401);
    expect(refusal.challenge).toContain("agent's own token");
  });

  it("a user's token presented as the agent token is a 401", async () => {
    const alice = await platform.userToken("alice", READ_WRITE);
    const bob = await platform.userToken("bob", READ_WRITE);
    const refusal = await refusedWith({ authorization: `Bearer ${alice}`, "tollgate-agent-token": bob });
    expect(refusal.status).toBe(401);
    expect(refusal.challenge).toContain("not a declared agent");
  });

  it("an agent token beside an exchanged token, or a malformed one, is refused", async () => {
    const alice = await platform.userToken("alice", READ_WRITE);
    const token = await exchanged(alice, TRIAGE);
    const coding = await agentToken(CODING, READ_WRITE);
    expect((await refusedWith({ authorization: `Bearer ${token}`, "tollgate-agent-token": coding })).status).toBe(401);
    expect((await refusedWith({ authorization: `Bearer ${alice}`, "tollgate-agent-token": "a b" })).status).toBe(401);
    const denied = platform.audit.filter((e) => e.kind === "auth" && e.decision === "deny");
    expect(JSON.stringify(denied)).not.toContain(coding.slice(-20));
  });
});

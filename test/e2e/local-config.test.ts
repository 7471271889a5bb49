/**
 * The local platform's configuration is derived from the real synthesized default environment: the
 * local authorization server gets the Okta apps' grants and scopes, the overlay resolves every apply-time
 * placeholder and changes only what an overlay may change. Synthesizes `stacks/main.ts` once.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listPlaceholders, validateRuntimeBundle } from "../../policies/bundle/index.js";
import {
  type LocalEndpoints,
  assignMcpServers,
  buildLocalOverlay,
  localPlaceholderValue,
} from "../../examples/local-platform/local-overlay.js";
import {
  type OktaConfig,
  agentClients,
  readOktaConfig,
  serviceClient,
  userClient,
} from "../../examples/local-platform/okta-resources.js";
import { type SynthOutput, findStack, synthesize } from "../../examples/local-platform/synth.js";
import { startAuthServer } from "../../examples/local-platform/auth-server.js";

const ENDPOINTS: LocalEndpoints = {
  issuer: "http://127.0.0.1:41000",
  gatewayUrl: "http://127.0.0.1:8080",
  clientIds: {
    agent: "tollgate-dev-agents",
    user: "tollgate-dev-users",
    "agent-triage": "tollgate-dev-agent-triage",
    "agent-coding": "tollgate-dev-agent-coding",
  },
  llmUpstreamUrl: (_route, provider) => `http://127.0.0.1:42000/${provider}`,
  workDir: "/tmp/tollgate-local-test",
  restServices: { tickets: "http://127.0.0.1:42002/v1" },
};

describe("local platform configuration from the synthesized dev stack", () => {
  let dir: string;
  let synth: SynthOutput;
  let bundle: Record<string, unknown>;
  let cdkTf: unknown;
  let okta: OktaConfig;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tollgate-local-config-"));
    await synthesize(join(dir, "cdktf.out"));
    synth = await findStack(join(dir, "cdktf.out"));
    bundle = JSON.parse(readFileSync(synth.bundlePath, "utf8")) as Record<string, unknown>;
    cdkTf = JSON.parse(readFileSync(synth.cdkTfJsonPath, "utf8"));
    okta = readOktaConfig(cdkTf);
  }, 120_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("picks the dev stack and its gateway bundle", () => {
    expect(synth.stack).toBe("tollgate-dev");
    expect(synth.bundlePath).toMatch(/tollgate-dev\/[a-z0-9-]+\.bundle\.json$/);
  });

  it("registers the agent app for client credentials without privileged scopes, as the agent policy rule says", () => {
    const agent = serviceClient(okta);
    expect(agent?.grantTypes).toContain("client_credentials");
    expect(agent?.scopes).toEqual(expect.arrayContaining(["mcp:read", "mcp:write"]));
    expect(agent?.scopes).not.toContain("mcp:admin");
    expect(agent?.tokenEndpointAuthMethod).not.toBe("none");
  });

  it("registers each agent's own app with private_key_jwt and only the scopes of its own access policy", () => {
    const agents = Object.fromEntries(agentClients(okta).map((c) => [c.agentId, c]));
    expect(Object.keys(agents).sort()).toEqual(["coding", "triage"]);
    expect(agents.triage).toMatchObject({
      clientId: "tollgate-dev-agent-triage",
      tokenEndpointAuthMethod: "private_key_jwt",
      grantTypes: ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"],
      scopes: ["mcp:read"],
    });
    expect(agents.coding?.scopes).toEqual(["mcp:read", "mcp:write"]);
    // The shared agent app of OktaApps stays the service client `tollgate dev token` uses by default.
    expect(serviceClient(okta)?.clientId).toBe("tollgate-dev-agents");
  });

  it("registers the user app as a public PKCE client that may ask for every MCP scope", () => {
    const user = userClient(okta);
    expect(user?.grantTypes).toContain("authorization_code");
    expect(user?.pkceRequired).toBe(true);
    expect(user?.tokenEndpointAuthMethod).toBe("none");
    expect(user?.scopes).toEqual(expect.arrayContaining(["mcp:read", "mcp:write", "mcp:admin"]));
  });

  it("declares the scopes McpScopes created, privileged ones with required consent", () => {
    const byName = Object.fromEntries(okta.scopes.map((s) => [s.name, s.consent]));
    expect(byName).toMatchObject({ "mcp:read": "IMPLICIT", "mcp:write": "IMPLICIT", "mcp:admin": "REQUIRED" });
  });

  it("the token audience is the audience the bundle accepts", () => {
    const audiences = (bundle.auth as { audiences: string[] }).audiences;
    expect(okta.audiences).toEqual(audiences);
  });

  it("resolves every placeholder to what it stands for at the local authorization server and its clients", async () => {
    const as = await startAuthServer({ audience: ENDPOINTS.gatewayUrl, scopes: ["mcp:read"], clients: [] });
    try {
      const endpoints = {
        ...ENDPOINTS,
        issuer: as.issuer,
        clientIds: {
          agent: serviceClient(okta)!.clientId,
          user: userClient(okta)!.clientId,
          ...Object.fromEntries(agentClients(okta).map((c) => [`agent-${c.agentId}`, c.clientId])),
        },
      };
      const { values } = buildLocalOverlay(bundle, endpoints);
      expect(Object.keys(values).sort()).toEqual(listPlaceholders(bundle));
      const discovery = (await (await fetch(values["okta.discoveryUrl"]!)).json()) as Record<string, unknown>;
      expect(values).toEqual({
        "okta.issuer": discovery.issuer,
        "okta.discoveryUrl": `${as.issuer}/.well-known/openid-configuration`,
        "okta.jwksUri": discovery.jwks_uri,
        "okta.tokenUrl": discovery.token_endpoint,
        "okta.clients.agent.id": "tollgate-dev-agents",
        "okta.clients.user.id": "tollgate-dev-users",
        "okta.clients.agent-triage.id": "tollgate-dev-agent-triage",
        "okta.clients.agent-coding.id": "tollgate-dev-agent-coding",
      });
    } finally {
      await as.close();
    }
  });

  it("the generated overlay makes the synthesized bundle pass the load-time rules unchanged", () => {
    const overlay = buildLocalOverlay(bundle, ENDPOINTS);
    const result = validateRuntimeBundle(bundle, { overlay });
    expect(result.ok ? [] : result.issues).toEqual([]);
    if (!result.ok) return;
    expect(result.bundle.auth.issuer).toBe(ENDPOINTS.issuer);
    // The gateway's canonical URI moves to the local address, consistently.
    expect(result.bundle.server.publicUrl).toBe(ENDPOINTS.gatewayUrl);
    expect(result.bundle.protectedResource.resource).toBe(`${ENDPOINTS.gatewayUrl}/mcp`);
    expect(result.bundle.auth.audiences).toEqual([ENDPOINTS.gatewayUrl]);
    expect(result.bundle.protectedResource.authorizationServers).toEqual([ENDPOINTS.issuer]);
    expect(result.bundle.auth.allowedClients).toEqual(
      expect.arrayContaining(["tollgate-dev-agents", "tollgate-dev-users"]),
    );
    // Policy is exactly the synthesized one: grants, deny, always-blocked, guard policies.
    const synthesized = bundle as {
      mcp: { grants: unknown; alwaysBlocked: unknown };
      guardPolicies: { id: string; limits?: unknown }[];
    };
    expect(result.bundle.mcp?.grants).toEqual(synthesized.mcp.grants);
    expect(result.bundle.mcp?.alwaysBlocked).toEqual(synthesized.mcp.alwaysBlocked);
    expect(result.bundle.guardPolicies.map((p) => p.limits)).toEqual(synthesized.guardPolicies.map((p) => p.limits));
    // Every MCP upstream runs a local stdio MCP server, every OpenAPI upstream calls its local REST stand-in;
    // every provider points at the local stand-in.
    for (const upstream of result.bundle.mcp?.upstreams ?? []) {
      if (upstream.id === "tickets")
        expect(upstream.transport).toMatchObject({ type: "openapi", baseUrl: "http://127.0.0.1:42002/v1" });
      else expect(upstream.transport.type).toBe("stdio");
      expect(upstream.credentials).toEqual({ mode: "none" });
    }
    for (const route of result.bundle.llm.routes) {
      for (const provider of route.providers) expect(provider.baseUrl.startsWith("http://127.0.0.1:42000/")).toBe(true);
    }
  });

  it("gives server-memory (read, write and delete tools) to one upstream and server-filesystem to the others", () => {
    const servers = Object.values(assignMcpServers(bundle));
    expect(servers.filter((s) => s === "memory")).toHaveLength(1);
    expect(servers.length).toBeGreaterThanOrEqual(2);
  });

  it("an overlay's publicUrl leaves an audience that is not the public URL alone", () => {
    const custom = structuredClone(bundle) as { auth: { audiences: string[] }; metadata: { digest?: string } };
    custom.auth.audiences = ["api://tollgate", ...custom.auth.audiences];
    delete custom.metadata.digest; // edited on purpose: no reviewed digest to check
    const result = validateRuntimeBundle(custom, { overlay: buildLocalOverlay(custom, ENDPOINTS) });
    expect(result.ok ? result.bundle.auth.audiences : result.issues).toEqual(["api://tollgate", ENDPOINTS.gatewayUrl]);
  });

  it("refuses a placeholder it cannot resolve, naming it", () => {
    expect(() => localPlaceholderValue("okta.clients.robot.id", ENDPOINTS)).toThrow(/okta\.clients\.robot\.id/);
    expect(() => localPlaceholderValue("vault.role", ENDPOINTS)).toThrow(/vault\.role/);
  });
});

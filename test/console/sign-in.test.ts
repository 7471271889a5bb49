/**
 * The console's access control, from the attacker's side: no session → no policy data; a callback is
 * refused for a forged, expired, wrong-audience or other client's token, a state that does not match, a
 * missing pre-login cookie, a replayed login, and a non-admin; forms need the session's CSRF token.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  CONSOLE_CLIENT,
  type ConsoleServer,
  type StandInIssuer,
  challengeOf,
  loadBundle,
  startConsoleServer,
  startStandInIssuer,
} from "./support.js";
import { startTestIssuer } from "../support/test-issuer.js";

const AUDIENCE = "https://gateway.example.com";
let issuer: StandInIssuer;
let consoleServer: ConsoleServer;

beforeAll(async () => {
  issuer = await startStandInIssuer();
  const loaded = loadBundle(issuer.issuer);
  consoleServer = await startConsoleServer((origin) => ({
    bundle: () => ({ ...loaded, source: "test bundle", loadedAt: new Date() }),
    tools: async () => [
      { upstream: "memory", name: "read_graph" },
      { upstream: "memory", name: "delete_entities" },
    ],
    health: async () => ({ ready: true, reasons: [], upstreams: [] }),
    limits: async () => [],
    signIn: { clientId: CONSOLE_CLIENT, url: `${origin}/console` },
  }));
});
afterAll(async () => {
  await consoleServer?.close();
  await issuer?.close();
});
beforeEach(() => {
  issuer.nextToken = undefined;
});

const url = (path: string) => `${consoleServer.origin}/console${path}`;
const now = () => Math.floor(Date.now() / 1000);
const adminClaims = (overrides: Record<string, unknown> = {}) => ({
  iss: issuer.issuer,
  aud: AUDIENCE,
  sub: "root@example.com",
  cid: CONSOLE_CLIENT,
  scp: ["tollgate:admin"],
  iat: now(),
  exp: now() + 600,
  ...overrides,
});

/** Starts a login: the pre-login cookie and the parameters the console sent to the issuer. */
async function beginLogin() {
  const response = await fetch(url("/login"), { redirect: "manual" });
  expect(response.status).toBe(302);
  const location = new URL(response.headers.get("location") ?? "");
  const setCookie = response.headers.getSetCookie().join("\n");
  const loginCookie = /tollgate_console_login=([^;]+)/.exec(setCookie)?.[1] ?? "";
  return { location, loginCookie, setCookie };
}

/** The issuer's redirect back to the callback, as the browser would follow it. */
function callback(params: Record<string, string>, loginCookie: string | undefined) {
  return fetch(`${url("/callback")}?${new URLSearchParams(params)}`, {
    redirect: "manual",
    headers: loginCookie ? { cookie: `tollgate_console_login=${loginCookie}` } : {},
  });
}

const sessionCookieOf = (response: Response) =>
  response.headers.getSetCookie().find((c) => c.startsWith("tollgate_console=") && !c.startsWith("tollgate_console=;"));

async function signInWith(claims: Record<string, unknown>, options: { foreign?: boolean } = {}) {
  issuer.nextToken = await issuer.sign(claims, options);
  const { location, loginCookie } = await beginLogin();
  return callback({ code: "the-code", state: location.searchParams.get("state") ?? "" }, loginCookie);
}

async function signedInCookie(): Promise<string> {
  const response = await signInWith(adminClaims());
  expect(response.status).toBe(200);
  return (sessionCookieOf(response) ?? "").split(";")[0] as string;
}

describe("without a session", () => {
  it("the console shows a sign-in page and no policy data", async () => {
    const response = await fetch(url("/"));
    expect(response.status).toBe(200);
    const page = await response.text();
    expect(page).toContain("Sign in");
    for (const secretish of ["mcp:read", "memory", "github", issuer.issuer, "root@example.com"])
      expect(page).not.toContain(secretish);
  });

  it("every data page redirects a browser to sign-in and answers 401 otherwise", async () => {
    for (const path of ["/matrix", "/upstreams", "/decisions", "/limits", "/explain", "/nonexistent"]) {
      const browser = await fetch(url(path), { redirect: "manual", headers: { accept: "text/html" } });
      expect(browser.status, path).toBe(302);
      expect(browser.headers.get("location")).toBe("/console/");
      const api = await fetch(url(path), { redirect: "manual" });
      expect(api.status, path).toBe(401);
      expect(await api.text()).not.toContain("mcp:");
    }
    const post = await fetch(url("/explain"), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "claims=%7B%7D&tool=memory__read_graph",
    });
    expect(post.status).toBe(401);
  });

  it("a made-up session cookie is no session", async () => {
    const response = await fetch(url("/matrix"), { redirect: "manual", headers: { cookie: "tollgate_console=abc" } });
    expect(response.status).toBe(401);
  });
});

describe("sign-in", () => {
  it("sends the browser to the issuer with PKCE S256, a random state and the configured redirect URI", async () => {
    const { location, setCookie } = await beginLogin();
    expect(location.origin + location.pathname).toBe(`${issuer.issuer}/authorize`);
    expect(location.searchParams.get("client_id")).toBe(CONSOLE_CLIENT);
    expect(location.searchParams.get("redirect_uri")).toBe(url("/callback"));
    expect(location.searchParams.get("code_challenge_method")).toBe("S256");
    expect(location.searchParams.get("scope")).toBe("openid tollgate:admin");
    expect(location.searchParams.get("state")?.length).toBeGreaterThanOrEqual(40);
    expect(setCookie).toMatch(
      /tollgate_console_login=[^;]+; HttpOnly; Secure; SameSite=Lax; Path=\/console; Max-Age=600/,
    );
  });

  it("an admin's verified token opens a session whose cookie is opaque, HttpOnly, Secure, SameSite=Strict, Path=/console", async () => {
    const token = await issuer.sign(adminClaims());
    issuer.nextToken = token;
    const { location, loginCookie } = await beginLogin();
    const response = await callback({ code: "c1", state: location.searchParams.get("state") ?? "" }, loginCookie);
    expect(response.status).toBe(200);
    const page = await response.text();
    expect(page).not.toContain(token);
    const cookie = sessionCookieOf(response) ?? "";
    expect(cookie).toMatch(
      /^tollgate_console=[A-Za-z0-9_-]{43}; HttpOnly; Secure; SameSite=Strict; Path=\/console; Max-Age=\d+$/,
    );
    expect(cookie).not.toContain(token.split(".")[2]);
    // The code was redeemed with the verifier whose challenge went to the issuer.
    const form = issuer.tokenRequests.at(-1);
    expect(challengeOf(form?.get("code_verifier") ?? "")).toBe(location.searchParams.get("code_challenge"));
    expect(form?.get("redirect_uri")).toBe(url("/callback"));

    const matrix = await fetch(url("/matrix"), { headers: { cookie: cookie.split(";")[0] as string } });
    expect(matrix.status).toBe(200);
    const html = await matrix.text();
    expect(html).toContain("mcp:read");
    expect(html).toContain("delete_entities");
    expect(html).not.toContain(token);
  });

  it.each([
    ["a forged token (signed with another key)", () => adminClaims(), { foreign: true }, /bad signature/],
    ["an expired token", () => adminClaims({ iat: now() - 7200, exp: now() - 3600 }), {}, /token expired/],
    ["a token for another audience", () => adminClaims({ aud: "https://other.example.com" }), {}, /wrong audience/],
    ["a token from another issuer", () => adminClaims({ iss: "https://evil.example.com" }), {}, /wrong issuer/],
    [
      "an agent's token (another client)",
      () => adminClaims({ cid: "some-agent" }),
      {},
      /not issued to the console&#39;s client/,
    ],
  ] as const)("refuses %s at the callback", async (_name, claims, options, reason) => {
    const response = await signInWith(claims(), options);
    expect(response.status).toBe(403);
    expect(await response.text()).toMatch(reason);
    expect(sessionCookieOf(response)).toBeUndefined();
  });

  it("answers 403 to a verified user without the admin scope, and opens no session", async () => {
    const response = await signInWith(adminClaims({ scp: ["mcp:read", "mcp:admin"] }));
    expect(response.status).toBe(403);
    expect(await response.text()).toContain("root@example.com is not a console administrator");
    expect(sessionCookieOf(response)).toBeUndefined();
  });

  it("refuses a callback whose state does not match the one issued with the browser's pre-login cookie", async () => {
    issuer.nextToken = await issuer.sign(adminClaims());
    const mine = await beginLogin();
    const attackers = await beginLogin();
    const response = await callback(
      { code: "c", state: attackers.location.searchParams.get("state") ?? "" },
      mine.loginCookie,
    );
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("state");
    expect(sessionCookieOf(response)).toBeUndefined();
  });

  it("refuses a callback without the pre-login cookie (a code injected into another browser)", async () => {
    issuer.nextToken = await issuer.sign(adminClaims());
    const { location } = await beginLogin();
    const response = await callback({ code: "c", state: location.searchParams.get("state") ?? "" }, undefined);
    expect(response.status).toBe(400);
    expect(sessionCookieOf(response)).toBeUndefined();
  });

  it("accepts a login's callback once: a replay is refused", async () => {
    issuer.nextToken = await issuer.sign(adminClaims());
    const { location, loginCookie } = await beginLogin();
    const params = { code: "c", state: location.searchParams.get("state") ?? "" };
    expect((await callback(params, loginCookie)).status).toBe(200);
    const replay = await callback(params, loginCookie);
    expect(replay.status).toBe(400);
    expect(sessionCookieOf(replay)).toBeUndefined();
  });

  it("shows the issuer's refusal without opening a session", async () => {
    const { location, loginCookie } = await beginLogin();
    const response = await callback(
      { error: "access_denied", state: location.searchParams.get("state") ?? "" },
      loginCookie,
    );
    expect(response.status).toBe(403);
    expect(await response.text()).toContain("access_denied");
  });
});

describe("a signed-in admin", () => {
  it("every page carries a strict CSP without unsafe-inline, and no-store", async () => {
    const cookie = await signedInCookie();
    for (const path of ["/", "/matrix", "/upstreams", "/decisions", "/limits", "/explain"]) {
      const response = await fetch(url(path), { headers: { cookie } });
      expect(response.status, path).toBe(200);
      const csp = response.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("default-src 'self'");
      expect(csp).not.toContain("unsafe");
      expect(response.headers.get("cache-control")).toBe("no-store");
      const html = await response.text();
      expect(html).not.toMatch(/<script|style=/);
    }
  });

  it("the explain form needs the session's CSRF token", async () => {
    const cookie = await signedInCookie();
    const page = await (await fetch(url("/explain"), { headers: { cookie } })).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? "";
    expect(csrf).not.toBe("");
    const post = (form: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(url("/explain"), {
        method: "POST",
        headers: { cookie, "content-type": "application/x-www-form-urlencoded", ...headers },
        body: new URLSearchParams(form),
      });
    const claims = JSON.stringify({ sub: "alice", cid: "agent", scp: ["mcp:read"] });
    expect((await post({ claims, tool: "memory__read_graph" })).status).toBe(403);
    expect((await post({ claims, tool: "memory__read_graph", csrf: "x".repeat(csrf.length) })).status).toBe(403);
    expect(
      (await post({ claims, tool: "memory__read_graph", csrf }, { origin: "https://evil.example.com" })).status,
    ).toBe(403);
    const allowed = await post({ claims, tool: "memory__read_graph", csrf });
    expect(allowed.status).toBe(200);
    expect(await allowed.text()).toContain("ALLOWED: memory__read_graph");
    const blocked = await (await post({ claims, tool: "memory__delete_entities", csrf })).text();
    expect(blocked).toContain("DENIED: memory__delete_entities");
    expect(blocked).toContain("always-blocked");
  });

  it("the explain form never echoes a pasted token", async () => {
    const cookie = await signedInCookie();
    const page = await (await fetch(url("/explain"), { headers: { cookie } })).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? "";
    const token = await issuer.sign(adminClaims());
    for (const form of [
      { claims: token, tool: "memory__read_graph" },
      { claims: JSON.stringify({ sub: token, scp: [] }), tool: "memory__read_graph" },
      { claims: "{}", tool: token },
    ]) {
      const response = await fetch(url("/explain"), {
        method: "POST",
        headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ ...form, csrf }),
      });
      const html = await response.text();
      expect(html).not.toContain(token);
      expect(html).not.toContain(token.split(".")[1]);
    }
  });

  it("signing out ends the session on the server", async () => {
    const cookie = await signedInCookie();
    const page = await (await fetch(url("/"), { headers: { cookie } })).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? "";
    const out = await fetch(url("/logout"), {
      method: "POST",
      redirect: "manual",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf }),
    });
    expect(out.status).toBe(302);
    expect((await fetch(url("/matrix"), { redirect: "manual", headers: { cookie } })).status).toBe(401);
  });
});

describe("what the console shows", () => {
  it("renders audit fields as text: a principal or tool holding markup cannot inject it", async () => {
    const cookie = await signedInCookie();
    consoleServer.decisions.record({
      kind: "mcp",
      decision: "deny",
      principal: '<img src=x onerror="alert(1)">',
      tool: "memory__</td><script>alert(2)</script>",
      rule: "no grant",
    });
    const html = await (await fetch(url("/decisions?decision=deny"), { headers: { cookie } })).text();
    expect(html).not.toContain("<img src=x");
    expect(html).not.toContain("<script>");
    expect(html).toContain("&#60;img src=x onerror=&#34;alert(1)&#34;&#62;");
  });
});

describe("session lifetime", () => {
  let clock = Date.now();
  let short: ConsoleServer;
  beforeAll(async () => {
    const loaded = loadBundle(issuer.issuer);
    short = await startConsoleServer((origin) => ({
      bundle: () => ({ ...loaded, source: "test bundle", loadedAt: new Date() }),
      health: async () => ({ ready: true, reasons: [], upstreams: [] }),
      limits: async () => [],
      signIn: { clientId: CONSOLE_CLIENT, url: `${origin}/console`, sessionTtlSeconds: 3600 },
      now: () => clock,
    }));
  });
  afterAll(() => short?.close());

  it("ends when the admin's token expires, before the session lifetime is over", async () => {
    clock = Date.now();
    issuer.nextToken = await issuer.sign(adminClaims({ exp: now() + 120 }));
    const begun = await fetch(`${short.origin}/console/login`, { redirect: "manual" });
    const state = new URL(begun.headers.get("location") ?? "").searchParams.get("state") ?? "";
    const login = /tollgate_console_login=([^;]+)/.exec(begun.headers.getSetCookie().join("\n"))?.[1] ?? "";
    const response = await fetch(`${short.origin}/console/callback?${new URLSearchParams({ code: "c", state })}`, {
      headers: { cookie: `tollgate_console_login=${login}` },
    });
    const cookie = (sessionCookieOf(response) ?? "").split(";")[0] as string;
    expect(sessionCookieOf(response)).toMatch(/Max-Age=(1[01]\d|120)$/);
    expect((await fetch(`${short.origin}/console/matrix`, { headers: { cookie } })).status).toBe(200);
    clock += 121_000;
    expect((await fetch(`${short.origin}/console/matrix`, { redirect: "manual", headers: { cookie } })).status).toBe(
      401,
    );
  });
});

describe("an issuer that cannot sign anyone in", () => {
  it("makes the sign-in answer 503 naming the missing discovery fields, and shows no data", async () => {
    const keysOnly = await startTestIssuer();
    const loaded = loadBundle(keysOnly.issuer);
    const server = await startConsoleServer((origin) => ({
      bundle: () => ({ ...loaded, source: "test bundle", loadedAt: new Date() }),
      health: async () => ({ ready: true, reasons: [], upstreams: [] }),
      limits: async () => [],
      signIn: { clientId: CONSOLE_CLIENT, url: `${origin}/console` },
    }));
    try {
      const response = await fetch(`${server.origin}/console/login`, { redirect: "manual" });
      expect(response.status).toBe(503);
      const page = await response.text();
      expect(page).toContain("authorization_endpoint");
      expect(page).not.toContain("mcp:read");
      expect(response.headers.getSetCookie()).toEqual([]);
    } finally {
      await server.close();
      await keysOnly.close();
    }
  });
});

/**
 * The operator console: read-only pages over the running gateway (bundle, authority matrix, upstreams,
 * recent decisions, limits, explain), for signed-in administrators only. Mounted on the admin port under
 * the path of `signIn.url` (e.g. `/console`).
 *
 * ```ts
 * const decisions = createDecisionRing();           // audit options: { onRecord: decisions.record }
 * const consoleHandler = createConsole({ bundle, health, limits, decisions, signIn: { clientId, url } });
 * adminServer.on("request", (req, res) => req.url?.startsWith("/console") ? consoleHandler(req, res) : metrics(req, res));
 * ```
 *
 * Every response carries a strict CSP (`default-src 'self'`, no inline script or style: the stylesheet is
 * served by the console), `no-store`, `nosniff`, `Referrer-Policy: same-origin` (the callback's code never leaks in a
 * Referer) and `frame-ancestors 'none'`. Without a session, the console answers its stylesheet, the sign-in
 * page and the sign-in flow; every other URL redirects to sign-in (HTML) or answers 401.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Bundle } from "../../policies/bundle/index.js";
import { type CompiledToolPolicy, compileToolPolicy, namespacedName } from "../../policies/tools/index.js";
import { explainTool } from "../cli/explain.js";
import { scrubValue } from "../observability/scrub.js";
import type { ConsoleDeps } from "./deps.js";
import { STYLESHEET } from "./html.js";
import { authorityMatrix } from "./matrix.js";
import {
  type ExplainOutcome,
  type Layout,
  bundlePage,
  decisionsPage,
  explainPage,
  limitsPage,
  matrixPage,
  refusedPage,
  saturation,
  signInPage,
  signedInPage,
  upstreamsPage,
} from "./pages.js";
import type { DecisionFilter } from "./ring.js";
import { type ConsoleSession, LOGIN_COOKIE, SESSION_COOKIE, SignInError, createSignIn, readCookie } from "./sign-in.js";

export type { ConsoleDeps } from "./deps.js";
export { createDecisionRing, type DecisionRing } from "./ring.js";

export type ConsoleHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

const CSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";
const SECURITY_HEADERS = {
  "content-security-policy": CSP,
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  // Same-origin only: the callback URL (with its code) never leaves, and forms keep a real Origin (no-referrer makes it "null").
  "referrer-policy": "same-origin",
  "x-frame-options": "DENY",
};
const MAX_FORM_BYTES = 64 * 1024;
const TOP_CONSUMERS = 20;
const DECISIONS_SHOWN = 200;
const JWT_SHAPE = /^\s*"?[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"?\s*$/;

class FormError extends Error {}

function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  if (!(req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded"))
    return Promise.reject(new FormError("expected a form (application/x-www-form-urlencoded)"));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_FORM_BYTES) {
        reject(new FormError(`the form is larger than ${MAX_FORM_BYTES} bytes`));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(new URLSearchParams(Buffer.concat(chunks).toString("utf8"))));
    req.on("error", reject);
  });
}

const wantsHtml = (req: IncomingMessage) => (req.headers.accept ?? "").includes("text/html");

export function createConsole(deps: ConsoleDeps): ConsoleHandler {
  const now = deps.now ?? Date.now;
  const consoleUrl = new URL(deps.signIn.url);
  const base = consoleUrl.pathname.replace(/\/+$/, "");
  const signIn = createSignIn(deps.signIn, now);
  const cookie = (name: string, value: string, maxAgeSeconds: number, sameSite: "Strict" | "Lax") =>
    `${name}=${value}; HttpOnly; Secure; SameSite=${sameSite}; Path=${base}; Max-Age=${maxAgeSeconds}`;
  let compiled: { digest: string; policy: CompiledToolPolicy } | undefined;
  const policyOf = (bundle: Bundle, digest: string): CompiledToolPolicy => {
    if (compiled?.digest !== digest)
      compiled = { digest, policy: compileToolPolicy(bundle.mcp ?? { grants: [], deny: [], alwaysBlocked: [] }) };
    return compiled.policy;
  };

  function send(
    res: ServerResponse,
    status: number,
    body: string,
    headers: Record<string, string | string[]> = {},
  ): void {
    res.writeHead(status, { ...SECURITY_HEADERS, "content-type": "text/html; charset=utf-8", ...headers }).end(body);
  }
  const redirect = (res: ServerResponse, location: string, headers: Record<string, string | string[]> = {}): void =>
    void res.writeHead(302, { ...SECURITY_HEADERS, location, ...headers }).end();

  async function signedOut(req: IncomingMessage, res: ServerResponse, path: string, layout: Layout): Promise<void> {
    if (path === "/login" && req.method === "GET") {
      const { bundle, digest } = deps.bundle();
      const { location, loginId } = await signIn.begin(bundle, digest);
      // Lax, not Strict: the issuer's redirect back to the callback is a cross-site navigation.
      return redirect(res, location, { "set-cookie": cookie(LOGIN_COOKIE, loginId, 600, "Lax") });
    }
    if (path === "/callback" && req.method === "GET") {
      const { bundle, digest } = deps.bundle();
      const query = new URL(req.url ?? "/", "http://console").searchParams;
      const clearLogin = cookie(LOGIN_COOKIE, "", 0, "Lax");
      try {
        const { sessionId, session } = await signIn.finish(bundle, digest, query, readCookie(req, LOGIN_COOKIE));
        const ttl = Math.max(1, Math.floor((session.expiresAt - now()) / 1000));
        return send(res, 200, signedInPage(layout), {
          "set-cookie": [clearLogin, cookie(SESSION_COOKIE, sessionId, ttl, "Strict")],
        });
      } catch (error) {
        if (!(error instanceof SignInError)) throw error;
        return send(res, error.status, refusedPage(layout, error.status, error.message), { "set-cookie": clearLogin });
      }
    }
    if (path === "/" && req.method === "GET") return send(res, 200, signInPage(layout));
    if (wantsHtml(req) && req.method === "GET") return redirect(res, `${base}/`);
    res
      .writeHead(401, { ...SECURITY_HEADERS, "content-type": "text/plain; charset=utf-8" })
      .end("sign in to the console\n");
  }

  async function explain(req: IncomingMessage, session: ConsoleSession): Promise<ExplainOutcome | "csrf"> {
    let form: URLSearchParams;
    try {
      form = await readForm(req);
    } catch (error) {
      if (error instanceof FormError) return { error: error.message };
      throw error;
    }
    if (!signIn.checkCsrf(session, form.get("csrf"))) return "csrf";
    const claimsText = form.get("claims") ?? "";
    const tool = (form.get("tool") ?? "").trim();
    // Neither field is ever echoed back: a token pasted by mistake must not end up in a page.
    if (JWT_SHAPE.test(claimsText) || JWT_SHAPE.test(tool))
      return { error: "claims: that looks like a token; paste its decoded claims as JSON, never the token itself" };
    let claims: unknown;
    try {
      claims = JSON.parse(claimsText);
    } catch {
      return {
        error: 'claims: expected a JSON object of token claims, e.g. {"sub":"alice","cid":"agent","scp":["mcp:read"]}',
      };
    }
    if (claims === null || typeof claims !== "object" || Array.isArray(claims))
      return {
        error: 'claims: expected a JSON object of token claims, e.g. {"sub":"alice","cid":"agent","scp":["mcp:read"]}',
      };
    if (!tool) return { error: "tool: enter a tool as agents name it, <upstream>__<tool>" };
    const result = explainTool(deps.bundle().bundle, claims as Record<string, unknown>, tool, "claims file");
    if ("error" in result) return { error: `tool: ${scrubValue(result.error)}` };
    return { explanation: scrubValue(result) };
  }

  async function signedIn(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    query: URLSearchParams,
    session: ConsoleSession,
  ): Promise<void> {
    const layout: Layout = { base, admin: { subject: session.subject, csrf: session.csrf } };
    if (req.method === "POST") {
      // SameSite=Strict keeps other sites' forms cookieless; a foreign Origin is refused as well.
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== consoleUrl.origin)
        return send(res, 403, refusedPage(layout, 403, "cross-origin form refused"));
      if (path === "/logout") {
        const form = await readForm(req).catch(() => new URLSearchParams());
        if (!signIn.checkCsrf(session, form.get("csrf")))
          return send(res, 403, refusedPage(layout, 403, "the form's CSRF token is missing or stale: reload the page"));
        signIn.end(req);
        return redirect(res, `${base}/`, { "set-cookie": cookie(SESSION_COOKIE, "", 0, "Strict") });
      }
      if (path === "/explain") {
        const outcome = await explain(req, session);
        if (outcome === "csrf")
          return send(res, 403, refusedPage(layout, 403, "the form's CSRF token is missing or stale: reload the page"));
        return send(res, 200, explainPage(layout, await toolNames(), outcome));
      }
      return send(res, 405, refusedPage(layout, 405, "this page only answers GET"), { allow: "GET" });
    }
    if (req.method !== "GET" && req.method !== "HEAD")
      return send(res, 405, refusedPage(layout, 405, "the console is read-only"), { allow: "GET, POST" });
    switch (path) {
      case "/":
        return send(res, 200, bundlePage(layout, deps.bundle()));
      case "/matrix": {
        const { bundle, digest } = deps.bundle();
        const tools = (await deps.tools?.()) ?? [];
        return send(res, 200, matrixPage(layout, authorityMatrix(bundle, policyOf(bundle, digest), tools)));
      }
      case "/upstreams":
        return send(res, 200, upstreamsPage(layout, await deps.health()));
      case "/decisions": {
        const decision = query.get("decision");
        const filter: DecisionFilter = {
          ...(decision ? { decision: decision as NonNullable<DecisionFilter["decision"]> } : {}),
          ...(query.get("principal") ? { principal: query.get("principal") as string } : {}),
          ...(query.get("tool") ? { tool: query.get("tool") as string } : {}),
        };
        const ring = deps.decisions;
        return send(
          res,
          200,
          decisionsPage(layout, filter, ring.list(filter, DECISIONS_SHOWN), {
            size: ring.size,
            capacity: ring.capacity,
          }),
        );
      }
      case "/limits": {
        const usage = await deps.limits();
        const top = [...usage].sort((a, b) => saturation(b) - saturation(a)).slice(0, TOP_CONSUMERS);
        return send(res, 200, limitsPage(layout, top, usage.length));
      }
      case "/explain":
        return send(res, 200, explainPage(layout, await toolNames(), undefined));
      case "/login":
      case "/callback":
        return redirect(res, `${base}/`);
      default:
        return send(res, 404, refusedPage(layout, 404, "no such console page"));
    }
  }

  async function toolNames(): Promise<string[]> {
    const tools = (await deps.tools?.()) ?? [];
    return tools.map((t) => namespacedName(t.upstream, t.name)).sort();
  }

  return async (req, res) => {
    const url = new URL(req.url ?? "/", "http://console");
    if (url.pathname !== base && !url.pathname.startsWith(`${base}/`)) {
      res.writeHead(404, SECURITY_HEADERS).end();
      return;
    }
    const path = url.pathname.slice(base.length) || "/";
    if (url.pathname === base) return redirect(res, `${base}/`);
    try {
      if (path === "/console.css" && req.method === "GET") {
        res.writeHead(200, { ...SECURITY_HEADERS, "content-type": "text/css; charset=utf-8" }).end(STYLESHEET);
        return;
      }
      const session = signIn.session(req);
      if (!session) return await signedOut(req, res, path, { base });
      return await signedIn(req, res, path, url.searchParams, session);
    } catch (error) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const message = error instanceof SignInError ? error.message : "the console could not build this page";
      send(res, error instanceof SignInError ? error.status : 500, refusedPage({ base }, 500, message));
    }
  };
}

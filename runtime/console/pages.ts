/**
 * The console's pages, rendered from plain data. Nothing here reads the gateway: the handler gathers the
 * data (./index.ts) and these functions only lay it out.
 */
import { AUDIT_DECISIONS } from "../observability/audit.js";
import type { Explanation } from "../cli/explain.js";
import type { HealthView, LoadedBundleView, PrincipalUsage } from "./deps.js";
import { Html, html } from "./html.js";
import type { AuthorityMatrix } from "./matrix.js";
import type { DecisionFilter, RecordedDecision } from "./ring.js";

export const PAGES = [
  { path: "/", title: "Bundle" },
  { path: "/matrix", title: "Authority" },
  { path: "/upstreams", title: "Upstreams" },
  { path: "/decisions", title: "Decisions" },
  { path: "/limits", title: "Limits" },
  { path: "/explain", title: "Explain" },
] as const;
export type PagePath = (typeof PAGES)[number]["path"];

export interface Layout {
  /** The mount path, e.g. `/console`. */
  readonly base: string;
  /** Who is signed in; absent on the sign-in page. */
  readonly admin?: { readonly subject: string; readonly csrf: string };
}

export function page(layout: Layout, title: string, current: PagePath | undefined, body: Html): string {
  const nav = layout.admin
    ? html`<nav>
          ${PAGES.map(
            (p) =>
              html`<a href="${layout.base}${p.path}" ${p.path === current ? new Html('aria-current="page"') : ""}
                >${p.title}</a
              >`,
          )}
        </nav>
        <form method="post" action="${layout.base}/logout">
          <input type="hidden" name="csrf" value="${layout.admin.csrf}" /><button>
            Sign out ${layout.admin.subject}
          </button>
        </form>`
    : "";
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · Tollgate console</title>
        <link rel="stylesheet" href="${layout.base}/console.css" />
      </head>
      <body>
        <header><span class="brand">Tollgate console</span>${nav}</header>
        <main>${body}</main>
      </body>
    </html>`.text;
}

export function signInPage(layout: Layout, message?: string): string {
  return page(
    layout,
    "Sign in",
    undefined,
    html`<section class="signin">
      <h1>Sign in</h1>
      <p>The console shows the gateway's policy, upstreams and decisions to administrators.</p>
      ${message ? html`<p class="error" role="alert">${message}</p>` : ""}
      <p><a class="button" id="sign-in" href="${layout.base}/login">Sign in with the gateway's issuer</a></p>
    </section>`,
  );
}

/** A sign-in refusal, or a page that needs an admin. */
export function refusedPage(layout: Layout, status: number, message: string): string {
  return page(
    layout,
    status === 403 ? "Not allowed" : "Sign-in failed",
    undefined,
    html`<section class="signin">
      <h1>${status === 403 ? "Not allowed" : "Sign-in failed"}</h1>
      <p class="error" role="alert">${message}</p>
      <p><a href="${layout.base}/">Back to sign-in</a></p>
    </section>`,
  );
}

/** After the callback: a same-site navigation into the console, so the SameSite=Strict cookie is sent. */
export function signedInPage(layout: Layout): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta http-equiv="refresh" content="0;url=${layout.base}/" />
        <title>Signed in · Tollgate console</title>
        <link rel="stylesheet" href="${layout.base}/console.css" />
      </head>
      <body>
        <main>
          <p>Signed in. <a href="${layout.base}/">Open the console</a>.</p>
        </main>
      </body>
    </html>`.text;
}

const time = (date: Date) =>
  date
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, " UTC");

export function bundlePage(layout: Layout, view: LoadedBundleView): string {
  const { bundle } = view;
  const metadata = Object.entries(bundle.metadata).filter(
    ([k, v]) => k !== "digest" && (typeof v === "string" || typeof v === "number"),
  );
  return page(
    layout,
    "Bundle",
    "/",
    html`<h1>Loaded bundle</h1>
      <dl>
        <dt>Digest</dt>
        <dd class="mono" id="digest">${view.digest}</dd>
        <dt>Source</dt>
        <dd class="mono">${view.source}</dd>
        <dt>Loaded</dt>
        <dd>${time(view.loadedAt)}</dd>
        <dt>Last reload</dt>
        <dd>
          ${
            view.lastReloadError
              ? html`<span class="error"
                    >failed at ${time(view.lastReloadError.at)}: ${view.lastReloadError.message}</span
                  >
                  (this bundle kept serving)`
              : "no failed reload since this bundle was loaded"
          }
        </dd>
        ${metadata.map(
          ([k, v]) =>
            html`<dt>${k}</dt>
              <dd>${String(v)}</dd>`,
        )}
        <dt>Issuer</dt>
        <dd class="mono">${bundle.auth.issuer}</dd>
        <dt>Audiences</dt>
        <dd class="mono">${bundle.auth.audiences.join(", ")}</dd>
        <dt>Allowed clients</dt>
        <dd class="mono">${bundle.auth.allowedClients?.join(", ") ?? "any client of the issuer"}</dd>
        <dt>MCP upstreams</dt>
        <dd>${(bundle.mcp?.upstreams ?? []).map((u) => u.id).join(", ") || "none"}</dd>
        <dt>LLM routes</dt>
        <dd>${bundle.llm.routes.map((r) => `${r.id} (${r.pathPrefix})`).join(", ") || "none"}</dd>
        <dt>Guard policies</dt>
        <dd>${bundle.guardPolicies.map((p) => p.id).join(", ")}</dd>
        <dt>Rate-limit store</dt>
        <dd>${bundle.rateLimitStore.type}</dd>
      </dl>`,
  );
}

const CELL_TEXT = { allow: "allow", "always-blocked": "blocked", deny: "denied", refuse: "—" } as const;

export function matrixPage(layout: Layout, matrix: AuthorityMatrix): string {
  const patterns = matrix.rows.some((r) => r.isPattern);
  return page(
    layout,
    "Authority",
    "/matrix",
    html`<h1>Authority matrix</h1>
      <p class="note">
        What a caller holding only one scope may see and call, as the gateway decides it (always-blocked first, then
        deny rules, then grants; default deny).
      </p>
      ${
        matrix.clients.restricted
          ? html`<p>
              Only tokens of the clients <code>${matrix.clients.allowed.join(", ")}</code> reach these rules; tokens of
              any other client are refused before them.
            </p>`
          : html`<p class="note">The bundle accepts tokens of any client of the issuer (no auth.allowedClients).</p>`
      }
      ${
        patterns
          ? html`<p class="note">
              Rows in <em>italics</em> are the bundle's patterns: the upstream's own tool list is not known yet.
            </p>`
          : ""
      }
      <table id="matrix">
        <thead>
          <tr>
            <th>Upstream</th>
            <th>Tool</th>
            ${matrix.scopes.map((s) => html`<th class="mono">${s}</th>`)}
          </tr>
        </thead>
        <tbody>
          ${matrix.rows.map(
            (row) =>
              html`<tr class="${row.alwaysBlocked ? "blocked" : ""}">
                <td>${row.upstream}</td>
                <td class="tool mono">${row.isPattern ? html`<em>${row.tool}</em>` : row.tool}</td>
                ${row.cells.map(
                  (cell) =>
                    html`<td
                      class="${cell.outcome}"
                      title="${cell.outcome === "allow" ? `grant: ${cell.grantedBy}` : cell.rule}"
                    >
                      ${CELL_TEXT[cell.outcome]}
                    </td>`,
                )}
              </tr>`,
          )}
        </tbody>
      </table>`,
  );
}

export function upstreamsPage(layout: Layout, health: HealthView): string {
  return page(
    layout,
    "Upstreams",
    "/upstreams",
    html`<h1>Upstreams and readiness</h1>
      <p>
        This replica is
        ${health.ready ? html`<span class="ready">ready</span>` : html`<span class="not-ready">not ready</span>`}.
      </p>
      ${
        health.reasons.length > 0
          ? html`<ul>
              ${health.reasons.map((r) => html`<li>${r}</li>`)}
            </ul>`
          : ""
      }
      <table id="upstreams">
        <thead>
          <tr>
            <th>Kind</th>
            <th>Upstream or route</th>
            <th>Provider</th>
            <th>State</th>
            <th>Detail</th>
          </tr>
        </thead>
        <tbody>
          ${health.upstreams.map(
            (u) =>
              html`<tr>
                <td>${u.kind}</td>
                <td>${u.id}</td>
                <td>${u.provider ?? ""}</td>
                <td class="state-${u.state}">${u.state}${u.until ? ` until ${time(u.until)}` : ""}</td>
                <td>${u.detail ?? ""}</td>
              </tr>`,
          )}
        </tbody>
      </table>
      ${health.upstreams.length === 0 ? html`<p class="note">No upstream is probed or cooling down.</p>` : ""}`,
  );
}

export function decisionsPage(
  layout: Layout,
  filter: DecisionFilter,
  entries: readonly RecordedDecision[],
  kept: { size: number; capacity: number },
): string {
  return page(
    layout,
    "Decisions",
    "/decisions",
    html`<h1>Recent decisions</h1>
      <p class="note">The last ${kept.size} of at most ${kept.capacity} audit events on this replica, newest first.</p>
      <form class="filters" method="get" action="${layout.base}/decisions">
        <label
          >Decision
          <select name="decision">
            <option value="">any</option>
            ${AUDIT_DECISIONS.map(
              (d) => html`<option value="${d}" ${filter.decision === d ? new Html("selected") : ""}>${d}</option>`,
            )}
          </select></label
        >
        <label>Principal (sub) <input name="principal" value="${filter.principal ?? ""}" /></label>
        <label>Tool or model <input name="tool" value="${filter.tool ?? ""}" /></label>
        <button>Filter</button>
      </form>
      <table id="decisions">
        <thead>
          <tr>
            <th>Time</th>
            <th>Decision</th>
            <th>Kind</th>
            <th>Principal</th>
            <th>Client</th>
            <th>Tool or model</th>
            <th>Rule or reason</th>
            <th>Status</th>
          </tr>
        </thead>
        <tbody>
          ${entries.map(
            (e) =>
              html`<tr>
                <td>${time(new Date(e.at))}</td>
                <td class="decision-${e.decision}">${e.decision}</td>
                <td>${e.kind}</td>
                <td>${e.principal ?? ""}</td>
                <td>${e.client ?? ""}</td>
                <td class="mono">${e.tool ?? e.model ?? e.method ?? ""}</td>
                <td>${e.rule ?? e.reason ?? ""}</td>
                <td>${e.status ?? ""}</td>
              </tr>`,
          )}
        </tbody>
      </table>
      ${entries.length === 0 ? html`<p class="note">No decision matches.</p>` : ""}`,
  );
}

/** The larger share of a budget spent, 0..1. */
export function saturation(usage: PrincipalUsage): number {
  const share = (b: PrincipalUsage["requests"]) => (b && b.limit > 0 ? b.used / b.limit : 0);
  return Math.max(share(usage.requests), share(usage.tokens));
}

export function limitsPage(layout: Layout, top: readonly PrincipalUsage[], total: number): string {
  const budget = (b: PrincipalUsage["requests"]) =>
    b
      ? html`<meter
            min="0"
            max="${b.limit}"
            low="${b.limit * 0.75}"
            high="${b.limit * 0.9}"
            optimum="0"
            value="${b.used}"
          ></meter>
          ${b.used} / ${b.limit}`
      : "no limit";
  return page(
    layout,
    "Limits",
    "/limits",
    html`<h1>Limits: top consumers</h1>
      <p class="note">
        ${top.length} of ${total} principals with usage in the current window, the most saturated budget first.
      </p>
      <table id="limits">
        <thead>
          <tr>
            <th>Principal</th>
            <th>Policy</th>
            <th>Requests</th>
            <th>Tokens</th>
            <th>Window ends</th>
          </tr>
        </thead>
        <tbody>
          ${top.map(
            (u) =>
              html`<tr>
                <td>${u.principal}</td>
                <td>${u.policy}</td>
                <td>${budget(u.requests)}</td>
                <td>${budget(u.tokens)}</td>
                <td>${u.windowEndsAt ? time(u.windowEndsAt) : ""}</td>
              </tr>`,
          )}
        </tbody>
      </table>`,
  );
}

export type ExplainOutcome = { readonly explanation: Explanation } | { readonly error: string } | undefined;

export function explainPage(layout: Layout, tools: readonly string[], outcome: ExplainOutcome): string {
  const csrf = layout.admin?.csrf ?? "";
  return page(
    layout,
    "Explain",
    "/explain",
    html`<h1>Explain a decision</h1>
      <p class="note">
        Paste the caller's token claims (decoded, as JSON; never the token) and a tool as agents name it
        (<code>upstream__tool</code>). The answer is the gateway's own decision path (<code>tollgate explain</code>).
      </p>
      <form class="explain" method="post" action="${layout.base}/explain">
        <input type="hidden" name="csrf" value="${csrf}" />
        <label
          >Claims (JSON)
          <textarea
            name="claims"
            spellcheck="false"
            placeholder='{"sub":"alice","cid":"agent","scp":["mcp:read"]}'
          ></textarea>
        </label>
        <label>Tool <input name="tool" list="tools" placeholder="memory__read_graph" /></label>
        <datalist id="tools">${tools.map((t) => html`<option value="${t}"></option>`)}</datalist>
        <button>Explain</button>
      </form>
      ${outcome && "error" in outcome ? html`<p class="error" role="alert">${outcome.error}</p>` : ""}
      ${outcome && "explanation" in outcome ? explanationView(outcome.explanation) : ""}`,
  );
}

function explanationView(e: Explanation): Html {
  const p = e.principal;
  return html`<section id="explanation">
    <h2 class="${e.allowed ? "decision-allow" : "decision-deny"}">${e.verdict.toUpperCase()}: ${e.tool}</h2>
    <dl>
      <dt>Rule</dt>
      <dd>${e.rule}</dd>
      ${
        e.requiredScopes.length > 0
          ? html`<dt>Needs</dt>
              <dd>one of ${e.requiredScopes.join(", ")}</dd>`
          : ""
      }
      <dt>Caller</dt>
      <dd>sub=${p.subject ?? "(none)"} client=${p.client ?? "(none)"} scopes=${p.scopes.join(" ") || "(none)"}</dd>
    </dl>
    <table>
      <thead>
        <tr>
          <th>Check</th>
          <th>Outcome</th>
          <th>Detail</th>
        </tr>
      </thead>
      <tbody>
        ${e.path.map(
          (s) =>
            html`<tr>
              <td>${s.check}</td>
              <td class="${s.outcome === "refuse" ? "deny" : s.outcome === "pass" ? "allow" : "refuse"}">
                ${s.outcome}
              </td>
              <td>${s.detail}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

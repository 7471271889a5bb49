/**
 * The console in a real browser: Debian's Chromium driven by puppeteer-core signs in through the local
 * authorization server (oidc-provider, its one-click login page), sees the authority matrix, and sees a
 * denied decision appear once the audit log records it. Screenshots go to test/console/screenshots/;
 * `CONSOLE_DOCS_SCREENSHOT=1` also refreshes docs/console.png (the README's).
 */
import { copyFile, mkdir } from "node:fs/promises";
import { existsSync } from "node:fs";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuthServer, startAuthServer } from "../../examples/local-platform/auth-server.js";
import { createAuditLog } from "../../runtime/observability/audit.js";
import { CONSOLE_CLIENT, type ConsoleServer, loadBundle, startConsoleServer } from "./support.js";

const CHROMIUM = "/usr/bin/chromium";
const AUDIENCE = "https://gateway.example.com";
const SCREENSHOTS = fileURLToPath(new URL("./screenshots/", import.meta.url));
const DOCS_SCREENSHOT = fileURLToPath(new URL("../../docs/console.png", import.meta.url));

const TOOLS = [
  ...["read_graph", "search_nodes", "open_nodes", "create_entities", "add_observations", "delete_entities"].map(
    (name) => ({ upstream: "memory", name }),
  ),
  ...["get_issue", "list_issues", "search_code", "create_issue", "merge_pull_request"].map((name) => ({
    upstream: "github",
    name,
  })),
];

let as: AuthServer;
let consoleServer: ConsoleServer;
let browser: Browser;
let page: Page;
const audit = createAuditLog(new Writable({ write: (_chunk, _enc, done) => done() }), {
  capturePrompts: true,
  onRecord: (event) => consoleServer.decisions.record(event),
});

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/ensure-system-deps.sh`);
  await mkdir(SCREENSHOTS, { recursive: true });
  let consoleOrigin = "";
  consoleServer = await startConsoleServer((origin) => {
    consoleOrigin = origin;
    return {
      // The issuer is only known once the authorization server listens, after the console's port is.
      bundle: () => ({
        ...loaded(),
        source: "/etc/tollgate/bundle.json",
        loadedAt: new Date(Date.UTC(2026, 11, 2, 9)),
      }),
      tools: async () => TOOLS,
      health: async () => ({
        ready: false,
        reasons: ['mcp upstream "github" down: connection failed (ECONNREFUSED)'],
        upstreams: [
          { id: "memory", kind: "mcp", state: "up" },
          { id: "github", kind: "mcp", state: "down", detail: "connection failed (ECONNREFUSED)" },
          {
            id: "anthropic",
            kind: "llm",
            provider: "anthropic",
            state: "cooling-down",
            until: new Date(Date.now() + 30_000),
          },
          { id: "anthropic", kind: "llm", provider: "openai-fallback", state: "up" },
        ],
      }),
      limits: async () => [
        {
          principal: "alice",
          policy: "default",
          requests: { used: 54, limit: 60 },
          tokens: { used: 81_000, limit: 100_000 },
        },
        {
          principal: "bob",
          policy: "default",
          requests: { used: 7, limit: 60 },
          tokens: { used: 2_300, limit: 100_000 },
        },
      ],
      signIn: { clientId: CONSOLE_CLIENT, url: `${origin}/console` },
    };
  });
  as = await startAuthServer({
    audience: AUDIENCE,
    scopes: ["mcp:read", "mcp:write", "mcp:admin", "tollgate:admin"],
    users: ["admin"],
    clients: [
      { clientId: CONSOLE_CLIENT, grants: ["authorization_code"], redirectUris: [`${consoleOrigin}/console/callback`] },
    ],
  });
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 760 });
});

let bundleCache: ReturnType<typeof loadBundle> | undefined;
const loaded = () => (bundleCache ??= loadBundle(as.issuer));

afterAll(async () => {
  await browser?.close();
  await as?.close();
  await consoleServer?.close();
});

const consoleUrl = (path: string) => `${consoleServer.origin}/console${path}`;

describe("the console in Chromium", () => {
  it("signs in through the local authorization server, shows the matrix and a denied decision as it happens", async () => {
    const violations: string[] = [];
    page.on("console", (message) => {
      if (/Content Security Policy|Refused to/.test(message.text())) violations.push(message.text());
    });

    await page.goto(consoleUrl("/matrix"));
    expect(new URL(page.url()).pathname).toBe("/console/");
    expect(await page.$eval("h1", (h) => h.textContent)).toBe("Sign in");
    expect(await page.content()).not.toContain("mcp:read");
    await page.screenshot({ path: `${SCREENSHOTS}sign-in.png` });

    await Promise.all([page.waitForNavigation(), page.click("#sign-in")]);
    expect(page.url().startsWith(as.issuer)).toBe(true);
    await Promise.all([page.waitForNavigation(), page.click('button[value="admin"]')]);
    // The callback page hands over to the console with a same-site navigation.
    await page.waitForSelector("#digest");
    expect(new URL(page.url()).pathname).toBe("/console/");

    const cookies = await browser.cookies();
    const session = cookies.find((c) => c.name === "tollgate_console");
    expect(session).toMatchObject({ httpOnly: true, secure: true, sameSite: "Strict", path: "/console" });
    expect(session?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await page.$eval("#digest", (d) => d.textContent)).toBe(loaded().digest);
    expect(await page.evaluate("document.cookie")).toBe("");
    await page.screenshot({ path: `${SCREENSHOTS}bundle.png`, fullPage: true });

    await page.goto(consoleUrl("/matrix"));
    const header = await page.$$eval("#matrix thead th", (ths) => ths.map((th) => th.textContent?.trim()));
    expect(header).toEqual(["Upstream", "Tool", "mcp:read", "mcp:write", "mcp:admin"]);
    const rows = await page.$$eval("#matrix tbody tr", (trs) =>
      trs.map((tr) => ({
        tool: tr.querySelector("td.tool")?.textContent?.trim(),
        blocked: tr.classList.contains("blocked"),
        cells: [...tr.querySelectorAll("td")].slice(2).map((td) => td.textContent?.trim()),
      })),
    );
    expect(rows.find((r) => r.tool === "read_graph")).toEqual({
      tool: "read_graph",
      blocked: false,
      cells: ["allow", "—", "allow"],
    });
    expect(rows.find((r) => r.tool === "delete_entities")).toMatchObject({
      blocked: true,
      cells: ["blocked", "blocked", "blocked"],
    });
    expect(rows.find((r) => r.tool === "merge_pull_request")?.blocked).toBe(true);
    // The stylesheet is the console's own and applies (no inline style is allowed).
    expect(await page.evaluate('getComputedStyle(document.querySelector("td.allow")).fontWeight')).toBe("600");
    await page.screenshot({ path: `${SCREENSHOTS}matrix.png`, fullPage: true });
    if (process.env.CONSOLE_DOCS_SCREENSHOT === "1") await copyFile(`${SCREENSHOTS}matrix.png`, DOCS_SCREENSHOT);

    await page.goto(consoleUrl("/decisions?decision=deny"));
    expect(await page.$$("#decisions tbody tr")).toHaveLength(0);
    audit.record({
      kind: "mcp",
      decision: "deny",
      principal: "alice",
      client: "research-agent",
      tool: "memory__delete_entities",
      rule: "always-blocked: destructive",
      status: 403,
      prompt: "delete everything about Bob",
    });
    audit.record({
      kind: "mcp",
      decision: "allow",
      principal: "alice",
      client: "research-agent",
      tool: "memory__read_graph",
    });
    await page.reload();
    const decisions = await page.$$eval("#decisions tbody tr", (trs) => trs.map((tr) => tr.textContent ?? ""));
    expect(decisions).toHaveLength(1);
    expect(decisions[0]).toContain("memory__delete_entities");
    expect(decisions[0]).toContain("always-blocked: destructive");
    expect(await page.content()).not.toContain("delete everything about Bob");
    await page.screenshot({ path: `${SCREENSHOTS}decisions.png`, fullPage: true });

    await page.goto(consoleUrl("/explain"));
    await page.type(
      "textarea[name=claims]",
      JSON.stringify({ sub: "alice", cid: "research-agent", scp: ["mcp:read"] }),
    );
    await page.type("input[name=tool]", "memory__create_entities");
    await Promise.all([page.waitForNavigation(), page.click("form.explain button")]);
    expect(await page.$eval("#explanation h2", (h) => h.textContent)).toBe("DENIED: memory__create_entities");
    await page.screenshot({ path: `${SCREENSHOTS}explain.png`, fullPage: true });

    for (const path of ["/upstreams", "/limits"]) {
      await page.goto(consoleUrl(path));
      await page.screenshot({ path: `${SCREENSHOTS}${path.slice(1)}.png`, fullPage: true });
    }
    expect(await page.$$("#limits meter")).toHaveLength(4);
    expect(violations).toEqual([]);
  });
});

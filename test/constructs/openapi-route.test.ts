/** `GatewayRoute.openapi`: a REST service's OpenAPI document synthesized into the bundle as an MCP upstream. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OktaProvider } from "@cdktf/provider-okta/lib/provider/index.js";
import { App, TerraformStack } from "cdktf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  GatewayBundle,
  GatewayRoute,
  GuardPolicy,
  McpScopes,
  OktaApps,
  OpenApiDocument,
  type OpenApiRouteProps,
} from "../../constructs/index.js";
import { TICKETS_DOCUMENT } from "../../examples/local-platform/tickets-service.js";
import type { BundleInput } from "../../policies/bundle/index.js";
import { checkErrors } from "./synth-helpers.js";

let tickets: OpenApiDocument;
const dirs: string[] = [];
beforeAll(async () => {
  tickets = await OpenApiDocument.fromFile(TICKETS_DOCUMENT);
});
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function ticketsStack(props: Partial<OpenApiRouteProps> = {}, environment = "prod") {
  const outdir = mkdtempSync(join(tmpdir(), "tollgate-openapi-"));
  dirs.push(outdir);
  const app = new App({ outdir, skipValidation: false });
  const stack = new TerraformStack(app, "apis");
  new OktaProvider(stack, "okta", { orgName: "acme" });
  const okta = new OktaApps(stack, "Okta", {
    name: "apis",
    gatewayUri: "https://agents.acme.example",
    userApp: { redirectUris: ["https://app.acme.example/cb"] },
  });
  const scopes = new McpScopes(stack, "Scopes", { authServer: okta });
  const route = GatewayRoute.openapi(stack, "Tickets", {
    upstreamId: "tickets",
    document: tickets,
    baseUrl: "https://tickets.acme.example/v1",
    credentials: { mode: "secret-header", header: "Authorization", prefix: "Bearer ", secretEnv: "TICKETS_TOKEN" },
    ...props,
  });
  const grants = route.openApi.grantAccess(scopes, { read: "mcp:read", write: "mcp:write" });
  const bundle = new GatewayBundle(stack, "GatewayBundle", {
    name: "gateway",
    environment,
    authServer: okta,
    routes: [route],
    scopes,
    defaultPolicy: new GuardPolicy(stack, "Default", {}),
  });
  return { app, stack, outdir, route, grants, bundle };
}

const readBundle = (outdir: string) =>
  JSON.parse(readFileSync(join(outdir, "stacks/apis/gateway.bundle.json"), "utf8")) as BundleInput;

describe("GatewayRoute.openapi", () => {
  it("synthesizes the document's operations into an openapi upstream, its secret by reference", () => {
    const { app, outdir, route } = ticketsStack();
    app.synth();
    const bundle = readBundle(outdir);
    const upstream = bundle.mcp?.upstreams?.[0];
    expect(upstream).toMatchObject({
      id: "tickets",
      transport: { type: "openapi", baseUrl: "https://tickets.acme.example/v1" },
      credentials: { mode: "secret-header", header: "Authorization", value: { env: "TICKETS_TOKEN" } },
    });
    const transport = upstream?.transport as { operations: { tool: string; method: string; path: string }[] };
    expect(transport.operations.map((o) => `${o.method} ${o.path} ${o.tool}`)).toEqual([
      "GET /tickets listTickets",
      "POST /tickets createTicket",
      "GET /tickets/{ticketId} getTicket",
      "PATCH /tickets/{ticketId} updateTicket",
      "DELETE /tickets/{ticketId} deleteTicket",
    ]);
    expect(route.secretEnvNames).toEqual(["TICKETS_TOKEN"]);
    expect(route.openApi.readTools).toEqual(["listTickets", "getTicket"]);
    expect(route.openApi.writeTools).toEqual(["createTicket", "updateTicket", "deleteTicket"]);
    // GatewayBundle validated it at synth (TG-BUNDLE-001); every $ref was resolved into the schemas.
    expect(JSON.stringify(bundle)).not.toContain("$ref");
  });

  it("grantAccess grants read and write tools by name, and never the destructive DELETE (it stays always-blocked)", () => {
    const { app, outdir, stack, grants } = ticketsStack();
    expect(grants.map((g) => [g.scope, g.tools])).toEqual([
      ["mcp:read", ["listTickets", "getTicket"]],
      ["mcp:write", ["createTicket", "updateTicket"]],
    ]);
    expect(checkErrors(stack)).toEqual([]); // no TG-TOOL-001
    app.synth();
    const bundle = readBundle(outdir);
    expect(bundle.mcp?.alwaysBlocked?.[0]?.tools).toContain("*delete*");
  });

  it("per-operation settings rename, move between read and write, and exclude", () => {
    const { route, grants } = ticketsStack({
      operations: {
        listTickets: { toolName: "search_tickets" },
        updateTicket: { access: "read" },
        createTicket: { exclude: true },
      },
    });
    expect(route.openApi.tools.map((t) => `${t.name}:${t.access}`)).toEqual([
      "search_tickets:read",
      "getTicket:read",
      "updateTicket:read",
      "deleteTicket:write",
    ]);
    expect(grants.map((g) => g.tools)).toEqual([["search_tickets", "getTicket", "updateTicket"]]);
  });

  it("an operation that cannot be a tool fails at the construct, naming it and the fix", () => {
    expect(() => ticketsStack({ operations: { getTicket: { toolName: "get.ticket" } } })).toThrow(
      /Tickets: GatewayRoute.openapi \(OpenApiDocument.fromFile\(.*tickets.openapi.yaml"\)\):\n {2}- operation GET \/tickets\/\{ticketId\} \(operationId "getTicket"\): "tickets__get.ticket" is not a valid tool name.*toolName: "get_ticket"/s,
    );
  });

  it("the base URL defaults to the document's server; plain http outside dev fails TG-NET-001", () => {
    const { route, stack } = ticketsStack({ baseUrl: undefined as unknown as string });
    expect(route.upstreamUrls).toEqual(["http://tickets.tollgate.svc.cluster.local:8080/v1"]);
    expect(checkErrors(stack).join("\n")).toContain("TG-NET-001");
    const dev = ticketsStack({ baseUrl: undefined as unknown as string }, "dev");
    expect(checkErrors(dev.stack)).toEqual([]);
  });

  it("a document without a usable server and no baseUrl is refused with the fix", async () => {
    const doc = await OpenApiDocument.fromObject(
      {
        openapi: "3.1.0",
        info: { title: "x", version: "1" },
        servers: [{ url: "/relative" }],
        paths: { "/a": { get: { operationId: "a", responses: {} } } },
      },
      "inline",
    );
    const stack = new TerraformStack(new App({ outdir: mkdtempSync(join(tmpdir(), "tollgate-openapi-")) }), "x");
    expect(() => GatewayRoute.openapi(stack, "X", { upstreamId: "x", document: doc })).toThrow(
      "X: GatewayRoute.openapi (OpenApiDocument.fromObject(inline)): the document names no absolute server URL: set GatewayRoute.openapi({ baseUrl })",
    );
  });

  it("loading refuses what is not an OpenAPI 3 document, naming the source", async () => {
    await expect(
      OpenApiDocument.fromObject({ swagger: "2.0", info: { title: "x", version: "1" }, paths: {} }),
    ).rejects.toThrow(
      /OpenApiDocument.fromObject\(document\): (not a valid OpenAPI document|expected an OpenAPI 3.0 or 3.1 document)/,
    );
    await expect(OpenApiDocument.fromFile("/nonexistent/api.yaml")).rejects.toThrow(
      'OpenApiDocument.fromFile("/nonexistent/api.yaml"): not a valid OpenAPI document',
    );
    await expect(OpenApiDocument.fromUrl("file:///etc/passwd")).rejects.toThrow("expected an http(s) URL");
  });
});

/**
 * OpenAPI documents → the tools of an `openapi` upstream (policies/openapi/tools.ts), on documents parsed and
 * dereferenced the way a synth loads them (OpenApiDocument), and the request a call becomes
 * (runtime/mcp/openapi-request.ts).
 */
import { describe, expect, it } from "vitest";
import { OpenApiDocument } from "../../constructs/openapi-document.js";
import { OverlaySchema, RuntimeBundleSchema, applyOverlay } from "../../policies/bundle/index.js";
import { openApiTransportSchema } from "../../policies/bundle/openapi-schema.js";
import { derivedToolName, openApiServerUrl, openApiTools } from "../../policies/openapi/tools.js";
import { operationRequest } from "../../runtime/mcp/openapi-request.js";

const petstore30 = {
  openapi: "3.0.3",
  info: { title: "Pets", version: "1" },
  servers: [{ url: "https://{region}.pets.example.com/v2", variables: { region: { default: "eu" } } }],
  paths: {
    "/pets": {
      get: {
        operationId: "listPets",
        summary: "List pets.",
        parameters: [
          { name: "tags", in: "query", schema: { type: "array", items: { type: "string" } } },
          {
            name: "limit",
            in: "query",
            explode: false,
            schema: { type: "integer", maximum: 50, exclusiveMaximum: true },
          },
          { name: "X-Tenant", in: "header", required: true, schema: { type: "string" } },
          { name: "Authorization", in: "header", schema: { type: "string" } },
          { name: "session", in: "cookie", schema: { type: "string" } },
        ],
        responses: { "200": { description: "ok" } },
      },
      post: {
        requestBody: {
          required: true,
          content: { "application/json": { schema: { $ref: "#/components/schemas/NewPet" } } },
        },
        responses: { "201": { description: "created" } },
      },
    },
    "/pets/{petId}": {
      parameters: [{ $ref: "#/components/parameters/PetId" }],
      get: { operationId: "getPet", deprecated: true, responses: { "200": { description: "ok" } } },
      delete: { operationId: "deletePet", responses: { "204": { description: "gone" } } },
    },
  },
  components: {
    parameters: { PetId: { name: "petId", in: "path", required: true, schema: { type: "integer" } } },
    schemas: {
      NewPet: {
        type: "object",
        required: ["name"],
        properties: {
          name: { type: "string", example: "Rex", "x-internal": true },
          nickname: { type: "string", nullable: true },
          parent: { $ref: "#/components/schemas/NewPet" },
        },
      },
    },
  },
};

const notes31 = {
  openapi: "3.1.0",
  info: { title: "Notes", version: "1" },
  paths: {
    "/notes/{id}": {
      put: {
        operationId: "replaceNote",
        parameters: [
          { name: "id", in: "path", required: true, schema: { type: "string" } },
          { name: "dryRun", in: "query", schema: { type: ["boolean", "null"] } },
        ],
        requestBody: {
          content: { "application/merge-patch+json": { schema: { $ref: "#/components/schemas/Note" } } },
        },
        responses: { "200": { description: "ok" } },
      },
    },
  },
  components: {
    schemas: { Note: { type: "object", properties: { text: { type: ["string", "null"] } }, $defs: {} } },
  },
};

const load = (doc: object) => OpenApiDocument.fromObject(doc, "test");

describe("OpenAPI operations as tools", () => {
  it("a 3.0 document: $refs resolved, parameters by location, the body as `body`, read and write by method", async () => {
    const { tools, problems } = openApiTools((await load(petstore30)).document, { upstreamId: "pets" });
    expect(problems).toEqual([]);
    expect(tools.map((t) => [t.operation.tool, t.access])).toEqual([
      ["listPets", "read"],
      ["post_pets", "write"],
      ["getPet", "read"],
      ["deletePet", "write"],
    ]);
    const list = tools[0]?.operation;
    expect(list?.parameters).toEqual([
      { name: "tags", in: "query", required: false, explode: true },
      { name: "limit", in: "query", required: false, explode: false },
      { name: "X-Tenant", in: "header", required: true, explode: true },
    ]); // Authorization is ignored (OpenAPI), an optional cookie is left out
    expect(list?.inputSchema).toEqual({
      type: "object",
      properties: {
        tags: { type: "array", items: { type: "string" } },
        limit: { type: "integer", exclusiveMaximum: 50 },
        "X-Tenant": { type: "string" },
      },
      required: ["X-Tenant"],
      additionalProperties: false,
    });
    const create = tools[1]?.operation;
    expect(create?.body).toEqual({ required: true, contentType: "application/json" });
    const body = (create?.inputSchema.properties as Record<string, Record<string, unknown>>).body;
    expect(body).toMatchObject({
      type: "object",
      required: ["name"],
      properties: {
        name: { type: "string", examples: ["Rex"] },
        nickname: { type: ["string", "null"] },
        parent: { description: "(recursive: any value)" }, // NewPet inside NewPet: cut where it repeats
      },
    });
    expect(JSON.stringify(body)).not.toContain("x-internal");
    expect(tools[2]?.operation).toMatchObject({
      path: "/pets/{petId}",
      description: "(deprecated) ",
      parameters: [{ name: "petId", in: "path", required: true }],
    });
  });

  it("a 3.1 document: type arrays kept, +json bodies accepted, an optional body stays optional", async () => {
    const { tools, problems } = openApiTools((await load(notes31)).document, { upstreamId: "notes" });
    expect(problems).toEqual([]);
    expect(tools[0]?.operation).toMatchObject({
      tool: "replaceNote",
      method: "PUT",
      body: { required: false, contentType: "application/merge-patch+json" },
      inputSchema: {
        properties: {
          dryRun: { type: ["boolean", "null"] },
          body: { properties: { text: { type: ["string", "null"] } } },
        },
        required: ["id"],
      },
    });
  });

  it("the converted operations are a valid bundle transport", async () => {
    for (const doc of [petstore30, notes31]) {
      const { tools } = openApiTools((await load(doc)).document, { upstreamId: "x" });
      const parsed = openApiTransportSchema().safeParse({
        type: "openapi",
        baseUrl: "https://api.example.com",
        operations: tools.map((t) => t.operation),
      });
      expect(parsed.error).toBeUndefined();
    }
  });

  it("per-operation settings rename, re-classify and exclude; an unknown key is a problem", async () => {
    const doc = (await load(petstore30)).document;
    const { tools, problems } = openApiTools(doc, {
      upstreamId: "pets",
      operations: {
        "POST /pets": { toolName: "addPet", access: "read" },
        deletePet: { exclude: true },
        nope: { exclude: true },
      },
    });
    expect(tools.map((t) => `${t.operation.tool}:${t.access}`)).toEqual([
      "listPets:read",
      "addPet:read",
      "getPet:read",
    ]);
    expect(problems).toEqual([expect.stringMatching(/^operations: "nope" names no operation.*listPets, POST \/pets/)]);
  });

  it("a name that is no valid tool name fails with the operation and the fix", async () => {
    const doc = structuredClone(petstore30) as typeof petstore30 & { paths: Record<string, Record<string, unknown>> };
    (doc.paths["/pets"]?.get as { operationId: string }).operationId = "pets.list";
    const { problems } = openApiTools((await load(doc)).document, { upstreamId: "pets" });
    expect(problems).toEqual([
      'operation GET /pets (operationId "pets.list"): "pets__pets.list" is not a valid tool name (letters, digits, \'_\' and \'-\', at most 64 characters with the "pets__" prefix): name it with operations: { "pets.list": { toolName: "pets_list" } }',
    ]);
    const long = openApiTools((await load(petstore30)).document, {
      upstreamId: "pets",
      operations: { listPets: { toolName: "x".repeat(60) } },
    });
    expect(long.problems[0]).toContain("at most 64 characters");
  });

  it("unsupported shapes are problems naming the operation: required cookie, non-JSON body, collisions", async () => {
    const doc = {
      openapi: "3.1.0",
      info: { title: "x", version: "1" },
      paths: {
        "/a": {
          get: {
            operationId: "a",
            parameters: [{ name: "s", in: "cookie", required: true, schema: { type: "string" } }],
            responses: {},
          },
          post: {
            operationId: "b",
            requestBody: { required: true, content: { "multipart/form-data": { schema: { type: "object" } } } },
            responses: {},
          },
          put: {
            operationId: "c",
            parameters: [{ name: "body", in: "query", schema: { type: "string" } }],
            requestBody: { content: { "application/json": { schema: { type: "object" } } } },
            responses: {},
          },
          patch: {
            operationId: "d",
            parameters: [{ name: "Host", in: "header", schema: { type: "string" } }],
            responses: {},
          },
        },
      },
    };
    const { tools, problems } = openApiTools((await load(doc)).document, { upstreamId: "x" });
    expect(tools).toEqual([]);
    expect(problems).toEqual([
      expect.stringMatching(
        /^operation GET \/a \(operationId "a"\): cookie parameter "s" is not supported: leave it out with operations: \{ "a": \{ exclude: true \} \}$/,
      ),
      expect.stringContaining(
        'operation POST /a (operationId "b"): its request body is multipart/form-data; only JSON bodies',
      ),
      expect.stringContaining('operation PUT /a (operationId "c"): argument "body" would be taken twice'),
      expect.stringContaining(
        'operation PATCH /a (operationId "d"): header parameter "Host" is a header the gateway sets itself',
      ),
    ]);
  });

  it("Swagger 2.0 and documents without operations are refused", () => {
    expect(openApiTools({ swagger: "2.0" }, { upstreamId: "x" }).problems[0]).toContain("got Swagger 2.0");
    expect(openApiTools({ openapi: "3.1.0", paths: {} }, { upstreamId: "x" }).problems).toEqual([
      "the document has no operations under `paths`",
    ]);
  });

  it("derived names and server URLs", () => {
    expect(derivedToolName("GET", "/tickets/{id}/comments")).toBe("get_tickets_by_id_comments");
    expect(derivedToolName("POST", "/")).toBe("post");
    expect(openApiServerUrl(petstore30)).toBe("https://eu.pets.example.com/v2");
    expect(openApiServerUrl({ servers: [{ url: "/api" }] }, "https://docs.example.com/openapi.json")).toBe(
      "https://docs.example.com/api",
    );
    expect(openApiServerUrl({ servers: [{ url: "/api" }] })).toBeUndefined();
  });

  it("a bundle refuses an operation whose path template and parameters disagree", () => {
    const result = openApiTransportSchema().safeParse({
      type: "openapi",
      baseUrl: "https://x.example.com",
      operations: [
        {
          tool: "get",
          method: "GET",
          path: "/a/{id}",
          parameters: [{ name: "other", in: "path", required: true }],
          inputSchema: { type: "object" },
        },
      ],
    });
    expect(result.error?.issues.map((i) => i.message)).toEqual([
      'path parameter "other" must be required and appear as {other} in /a/{id}',
      "{id} has no path parameter",
    ]);
    expect(RuntimeBundleSchema).toBeDefined();
  });
});

describe("a tool call as an HTTP request", () => {
  const operation = {
    tool: "getThing",
    method: "GET" as const,
    path: "/things/{id}/parts/{part}",
    parameters: [
      { name: "id", in: "path" as const, required: true, explode: true },
      { name: "part", in: "path" as const, required: true, explode: true },
      { name: "tags", in: "query" as const, required: false, explode: false },
      { name: "X-Tenant", in: "header" as const, required: false, explode: true },
    ],
    inputSchema: { type: "object" },
  };
  const base = "https://api.example.com/v1/";

  it("puts each argument where the operation says, encoded", () => {
    expect(operationRequest(base, operation, { id: "a b/c", part: 7, tags: ["x", "y"], "X-Tenant": "acme" })).toEqual({
      url: "https://api.example.com/v1/things/a%20b%2Fc/parts/7?tags=x%2Cy",
      method: "GET",
      headers: { accept: "application/json", "x-tenant": "acme" },
    });
  });

  it("no path value escapes the template (attacker)", () => {
    for (const id of ["..", ".", "", "../../admin", "%2e%2e", "..\\..", "?x=1", "#frag", "a/../../b"]) {
      const request = operationRequest(base, operation, { id, part: "p" });
      if ("refused" in request) continue;
      const url = new URL(request.url);
      expect(url.origin).toBe("https://api.example.com");
      expect(url.pathname).toMatch(/^\/v1\/things\/[^/]+\/parts\/p$/);
      expect(url.search).toBe("");
    }
    expect(operationRequest(base, operation, { id: "..", part: "p" })).toEqual({
      refused: 'argument "id": a path parameter cannot be empty, "." or ".."',
    });
  });

  it("refuses undeclared arguments, missing required ones, objects, and line breaks in headers", () => {
    expect(operationRequest(base, operation, { id: "1", part: "2", admin: true })).toEqual({
      refused: 'unknown argument "admin": getThing takes "id", "part", "tags", "X-Tenant"',
    });
    expect(operationRequest(base, operation, { id: "1" })).toEqual({ refused: 'missing required argument "part"' });
    expect(operationRequest(base, operation, { id: { $gt: "" }, part: "2" })).toMatchObject({
      refused: expect.stringContaining('argument "id"'),
    });
    expect(operationRequest(base, operation, { id: "1", part: "2", "X-Tenant": "a\r\nX-Admin: 1" })).toMatchObject({
      refused: expect.stringContaining("line breaks"),
    });
  });
});

describe("a local overlay and OpenAPI upstreams", () => {
  const bundle = {
    mcp: {
      upstreams: [
        {
          id: "tickets",
          transport: { type: "openapi", baseUrl: "https://tickets.example.com/v1", operations: [] },
          credentials: { mode: "secret-header" },
        },
        { id: "docs", transport: { type: "stdio", command: "node" } },
      ],
    },
  };

  it("moves an OpenAPI upstream's base URL to the stand-in, keeps its operations, drops its credentials", () => {
    const overlay = OverlaySchema.parse({ openApiUpstreams: { tickets: { baseUrl: "http://127.0.0.1:9/v1" } } });
    const { bundle: moved, unknown } = applyOverlay(bundle, overlay);
    expect(unknown).toEqual([]);
    expect(moved.mcp.upstreams[0]).toEqual({
      id: "tickets",
      transport: { type: "openapi", baseUrl: "http://127.0.0.1:9/v1", operations: [] },
      credentials: { mode: "none" },
    });
  });

  it("names an entry that is no OpenAPI upstream as unknown, and changes nothing", () => {
    const overlay = OverlaySchema.parse({
      openApiUpstreams: { docs: { baseUrl: "http://x" }, nope: { baseUrl: "http://x" } },
    });
    const { bundle: same, unknown } = applyOverlay(bundle, overlay);
    expect(unknown).toEqual(["openApiUpstreams.docs", "openApiUpstreams.nope"]);
    expect(same).toEqual(bundle);
  });
});

/**
 * The operations of an OpenAPI 3.0 or 3.1 document as the tools of an `openapi` upstream: what the construct
 * writes into the bundle (and reports as read or write tools) and what the runtime serves. Pure: it reads a
 * document that was already parsed, validated and dereferenced (constructs/openapi-document.ts).
 *
 * A tool's arguments are one object: each parameter (path, query, header) by its name, and the JSON request
 * body as `body`. Its input schema says exactly that, with `additionalProperties: false`.
 */
import type { OpenApiOperation } from "../bundle/index.js";
import {
  BODY_ARGUMENT,
  OPENAPI_METHODS,
  OPENAPI_TOOL_NAME,
  type OpenApiMethod,
  PATH_TEMPLATE_VARIABLE,
} from "../bundle/openapi-schema.js";
import { NAMESPACE_SEPARATOR } from "../tools/names.js";

/** What a tool does by default: GET and HEAD read, every other method writes. */
export type ToolAccess = "read" | "write";

/** How one operation becomes a tool. */
export interface OpenApiOperationOptions {
  /** @default the operationId, else a name derived from the method and path (`get_tickets_by_id`) */
  readonly toolName?: string;
  /** @default "read" for GET and HEAD, "write" otherwise */
  readonly access?: ToolAccess;
  /** Leave the operation out: no tool. @default false */
  readonly exclude?: boolean;
}

export interface OpenApiToolsOptions {
  /** The upstream id: tools are shown as `{upstreamId}__{tool}`, which must still be a valid tool name. */
  readonly upstreamId: string;
  /** Per operation, keyed by operationId, or `METHOD /path` (e.g. `GET /tickets/{id}`) for one without. */
  readonly operations?: Readonly<Record<string, OpenApiOperationOptions>>;
}

/** One operation as a tool. */
export interface OpenApiTool {
  /** The operation's key: its operationId, else `METHOD /path`. */
  readonly key: string;
  readonly access: ToolAccess;
  /** The bundle entry. */
  readonly operation: OpenApiOperation;
}

export interface OpenApiToolsResult {
  readonly tools: readonly OpenApiTool[];
  /** Operations that cannot become tools as they are, each naming the operation and the fix. Empty: all good. */
  readonly problems: readonly string[];
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Header parameters OpenAPI says to ignore (the request's own Accept, Content-Type and credentials). */
const IGNORED_HEADERS = new Set(["accept", "content-type", "authorization"]);
/** Headers an argument may never set: they belong to the connection or the gateway. */
const RESERVED_HEADERS = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "upgrade",
  "te",
  "trailer",
  "expect",
  "cookie",
  "proxy-authorization",
  "traceparent",
  "tracestate",
  "x-request-id",
]);
const JSON_MEDIA_TYPE = /^application\/([a-z0-9.+-]+\+)?json\s*(;.*)?$/i;
const MAX_DESCRIPTION = 4000;

/** The operations of `document` as tools, or the problems that stop some of them. */
export function openApiTools(document: unknown, options: OpenApiToolsOptions): OpenApiToolsResult {
  const doc = isObject(document) ? document : {};
  const version = typeof doc.openapi === "string" ? doc.openapi : undefined;
  if (!version || !/^3\.[01]\./.test(version)) {
    const found = typeof doc.swagger === "string" ? `Swagger ${doc.swagger}` : (version ?? "no `openapi` field");
    return {
      tools: [],
      problems: [`expected an OpenAPI 3.0 or 3.1 document, got ${found}: convert it to OpenAPI 3.1`],
    };
  }
  const draft4 = version.startsWith("3.0");
  const chosen = options.operations ?? {};
  const tools: OpenApiTool[] = [];
  const problems: string[] = [];
  const keys: string[] = [];
  for (const [path, item] of Object.entries(isObject(doc.paths) ? doc.paths : {})) {
    if (!isObject(item)) continue;
    for (const method of OPENAPI_METHODS) {
      const operation = item[method.toLowerCase()];
      if (!isObject(operation)) continue;
      const operationId = typeof operation.operationId === "string" ? operation.operationId : undefined;
      const key = operationId ?? `${method} ${path}`;
      keys.push(key);
      const settings = chosen[key] ?? {};
      if (settings.exclude) continue;
      const where = `operation ${method} ${path}${operationId ? ` (operationId "${operationId}")` : ""}`;
      const converted = convertOperation({ path, method, item, operation, draft4 });
      if ("problem" in converted) {
        problems.push(
          `${where}: ${converted.problem}: leave it out with operations: { ${JSON.stringify(key)}: { exclude: true } }`,
        );
        continue;
      }
      const tool = settings.toolName ?? operationId ?? derivedToolName(method, path);
      const exposed = `${options.upstreamId}${NAMESPACE_SEPARATOR}${tool}`;
      if (!OPENAPI_TOOL_NAME.test(tool) || exposed.length > 64) {
        problems.push(
          `${where}: "${exposed}" is not a valid tool name (letters, digits, '_' and '-', at most 64 characters with the "${options.upstreamId}${NAMESPACE_SEPARATOR}" prefix): name it with operations: { ${JSON.stringify(key)}: { toolName: "${suggestName(tool, 64 - options.upstreamId.length - NAMESPACE_SEPARATOR.length)}" } }`,
        );
        continue;
      }
      const twin = tools.find((t) => t.operation.tool === tool);
      if (twin) {
        problems.push(
          `${where}: tool name "${tool}" is already taken by ${twin.operation.method} ${twin.operation.path}: name one of them with operations: { ${JSON.stringify(key)}: { toolName: "..." } }`,
        );
        continue;
      }
      const access = settings.access ?? (method === "GET" || method === "HEAD" ? "read" : "write");
      tools.push({ key, access, operation: { tool, ...converted } });
    }
  }
  for (const key of Object.keys(chosen))
    if (!keys.includes(key))
      problems.push(
        `operations: ${JSON.stringify(key)} names no operation of the document: use an operationId or "METHOD /path" (${keys.join(", ") || "the document has none"})`,
      );
  if (keys.length > 0 && tools.length === 0 && problems.length === 0)
    problems.push("every operation is excluded: an OpenAPI upstream needs at least one tool");
  if (keys.length === 0) problems.push("the document has no operations under `paths`");
  return { tools, problems };
}

/** `GET /tickets/{id}/comments` → `get_tickets_by_id_comments`. */
export function derivedToolName(method: string, path: string): string {
  const segments = path
    .split("/")
    .filter((s) => s.length > 0)
    .map((s) => s.replace(/^\{(.+)\}$/, "by_$1"));
  return [method.toLowerCase(), ...segments]
    .join("_")
    .replace(/[^a-zA-Z0-9_-]+/g, "_")
    .replace(/_+/g, "_")
    .replace(/_$/, "");
}

function suggestName(name: string, room: number): string {
  return (name.replace(/[^a-zA-Z0-9_-]+/g, "_").slice(0, Math.max(1, room)) || "tool").replace(/_$/, "");
}

interface OperationSource {
  readonly path: string;
  readonly method: OpenApiMethod;
  readonly item: Json;
  readonly operation: Json;
  readonly draft4: boolean;
}

type Converted = Omit<OpenApiOperation, "tool"> | { problem: string };

function convertOperation({ path, method, item, operation, draft4 }: OperationSource): Converted {
  // Operation-level parameters override path-level ones with the same name and location.
  const byKey = new Map<string, Json>();
  for (const list of [item.parameters, operation.parameters])
    for (const parameter of Array.isArray(list) ? list : [])
      if (isObject(parameter)) byKey.set(`${String(parameter.in)}:${String(parameter.name)}`, parameter);
  const parameters: OpenApiOperation["parameters"] = [];
  const properties: Json = {};
  const required: string[] = [];
  for (const parameter of byKey.values()) {
    const name = typeof parameter.name === "string" ? parameter.name : "";
    const location = parameter.in;
    if (location === "cookie") {
      if (parameter.required === true) return { problem: `cookie parameter "${name}" is not supported` };
      continue;
    }
    if (location === "header" && IGNORED_HEADERS.has(name.toLowerCase())) continue;
    if (location !== "path" && location !== "query" && location !== "header")
      return { problem: `parameter "${name}" is in ${String(location)}, expected path, query or header` };
    if (location === "header" && RESERVED_HEADERS.has(name.toLowerCase()))
      return { problem: `header parameter "${name}" is a header the gateway sets itself` };
    if (!isObject(parameter.schema))
      return { problem: `parameter "${name}" has no schema (\`content\` parameters are not supported)` };
    const style = parameter.style;
    const plainStyle = location === "query" ? "form" : "simple";
    if (style !== undefined && style !== plainStyle)
      return { problem: `parameter "${name}" uses style "${String(style)}" (only ${plainStyle} is supported)` };
    if (name === BODY_ARGUMENT || name in properties)
      return {
        problem: `argument "${name}" would be taken twice (parameters share one argument object with the request body, "${BODY_ARGUMENT}")`,
      };
    const isRequired = location === "path" || parameter.required === true;
    parameters.push({
      name,
      in: location,
      required: isRequired,
      explode: typeof parameter.explode === "boolean" ? parameter.explode : true,
    });
    properties[name] = withDescription(jsonSchema(parameter.schema, draft4), parameter.description);
    if (isRequired) required.push(name);
  }
  for (const match of path.matchAll(PATH_TEMPLATE_VARIABLE))
    if (!parameters.some((p) => p.in === "path" && p.name === match[1]))
      return { problem: `{${match[1]}} in the path has no path parameter` };
  const body = requestBody(operation.requestBody);
  if (body && "problem" in body) return body;
  if (body) {
    properties[BODY_ARGUMENT] = withDescription(jsonSchema(body.schema, draft4), body.description);
    if (body.required) required.push(BODY_ARGUMENT);
  }
  const description = [operation.summary, operation.description]
    .filter((s): s is string => typeof s === "string" && s.trim().length > 0)
    .join("\n\n");
  const text = `${operation.deprecated === true ? "(deprecated) " : ""}${description}`.slice(0, MAX_DESCRIPTION);
  return {
    method,
    path,
    ...(text.length > 0 ? { description: text } : {}),
    parameters,
    ...(body ? { body: { required: body.required, contentType: body.contentType } } : {}),
    inputSchema: {
      type: "object",
      properties,
      ...(required.length > 0 ? { required } : {}),
      additionalProperties: false,
    },
  };
}

function requestBody(
  value: unknown,
): { schema: unknown; required: boolean; contentType: string; description: unknown } | { problem: string } | undefined {
  if (!isObject(value)) return undefined;
  const content = isObject(value.content) ? value.content : {};
  const contentType = Object.keys(content).find((type) => JSON_MEDIA_TYPE.test(type));
  if (contentType === undefined) {
    if (value.required !== true) return undefined; // sent without a body
    return {
      problem: `its request body is ${Object.keys(content).join(", ") || "without content"}; only JSON bodies are supported`,
    };
  }
  const media = content[contentType];
  return {
    schema: isObject(media) && isObject(media.schema) ? media.schema : {},
    required: value.required === true,
    contentType: contentType.split(";")[0]?.trim() ?? contentType,
    description: value.description,
  };
}

function withDescription(schema: unknown, description: unknown): unknown {
  if (!isObject(schema) || typeof description !== "string" || description.length === 0 || "description" in schema)
    return schema;
  return { ...schema, description };
}

/** Keywords whose value is a map of names to schemas, a list of schemas, or one schema. */
const SCHEMA_MAPS = new Set(["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"]);
const SCHEMA_LISTS = new Set(["allOf", "anyOf", "oneOf", "prefixItems"]);
const SCHEMA_ONE = new Set([
  "items",
  "additionalItems",
  "additionalProperties",
  "unevaluatedItems",
  "unevaluatedProperties",
  "not",
  "if",
  "then",
  "else",
  "contains",
  "propertyNames",
]);
/** OpenAPI's own keywords, which are not JSON Schema (or not worth a tool's schema). */
const DROPPED = new Set(["discriminator", "xml", "externalDocs", "nullable", "example", "$id", "$schema"]);

/**
 * An OpenAPI schema as a plain JSON Schema (2020-12) an MCP client can use: OpenAPI 3.0's `nullable`,
 * `example` and boolean `exclusiveMinimum`/`exclusiveMaximum` become their JSON Schema forms, OpenAPI-only
 * keywords and `x-` extensions go, and a recursive schema (a dereferenced cycle) becomes `{}` where it
 * repeats, so the result is finite JSON.
 */
export function jsonSchema(schema: unknown, draft4: boolean, ancestors: Set<object> = new Set()): unknown {
  if (typeof schema === "boolean") return schema;
  if (!isObject(schema)) return {};
  if (ancestors.has(schema)) return { description: "(recursive: any value)" };
  ancestors.add(schema);
  const out: Json = {};
  for (const [keyword, value] of Object.entries(schema)) {
    if (keyword.startsWith("x-") || DROPPED.has(keyword)) continue;
    if (SCHEMA_MAPS.has(keyword) && isObject(value))
      out[keyword] = Object.fromEntries(
        Object.entries(value).map(([name, sub]) => [name, jsonSchema(sub, draft4, ancestors)]),
      );
    else if (SCHEMA_LISTS.has(keyword) && Array.isArray(value))
      out[keyword] = value.map((sub) => jsonSchema(sub, draft4, ancestors));
    else if (SCHEMA_ONE.has(keyword))
      out[keyword] = Array.isArray(value)
        ? value.map((sub) => jsonSchema(sub, draft4, ancestors))
        : jsonSchema(value, draft4, ancestors);
    else out[keyword] = plainJson(value);
  }
  ancestors.delete(schema);
  if ("example" in schema && !("examples" in schema)) out.examples = [plainJson(schema.example)];
  if (draft4) {
    if (schema.nullable === true && typeof schema.type === "string") out.type = [schema.type, "null"];
    for (const [flag, bound] of [
      ["exclusiveMinimum", "minimum"],
      ["exclusiveMaximum", "maximum"],
    ] as const) {
      if (typeof schema[flag] !== "boolean") continue;
      delete out[flag];
      if (schema[flag] === true && typeof schema[bound] === "number") {
        out[flag] = schema[bound];
        delete out[bound];
      }
    }
  }
  return out;
}

/** A data value (enum member, default, example) as plain JSON: cycles cannot occur in data, but be safe. */
function plainJson(value: unknown): unknown {
  try {
    return value === undefined ? undefined : (JSON.parse(JSON.stringify(value)) as unknown);
  } catch {
    return null;
  }
}

/**
 * The base URL the document names: its first `servers` entry with server variables at their defaults,
 * resolved against `documentUrl` when relative. Undefined when the document names none usable.
 */
export function openApiServerUrl(document: unknown, documentUrl?: string): string | undefined {
  const servers = isObject(document) && Array.isArray(document.servers) ? document.servers : [];
  const first: unknown = servers[0];
  if (!isObject(first) || typeof first.url !== "string") return undefined;
  const variables = isObject(first.variables) ? first.variables : {};
  const expanded = first.url.replace(/\{([^}]+)\}/g, (whole, name: string) => {
    const variable = variables[name];
    return isObject(variable) && typeof variable.default === "string" ? variable.default : whole;
  });
  if (/[{}]/.test(expanded)) return undefined;
  if (URL.canParse(expanded)) return expanded;
  return documentUrl !== undefined && URL.canParse(expanded, documentUrl)
    ? new URL(expanded, documentUrl).href
    : undefined;
}

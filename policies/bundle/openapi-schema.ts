/**
 * The `openapi` transport of an MCP upstream (`mcp.upstreams[].transport`): a REST service described by an
 * OpenAPI document, whose operations the gateway itself serves as MCP tools. The document is parsed and
 * converted at synth (policies/openapi); the bundle carries only what the runtime needs per tool: the HTTP
 * method, the path template, where each argument goes, the input JSON Schema and the description.
 */
import { z } from "zod";
import { text, url } from "./fields.js";

/** The HTTP methods an operation may use (OpenAPI's, without OPTIONS and TRACE). */
export const OPENAPI_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] as const;
export type OpenApiMethod = (typeof OPENAPI_METHODS)[number];

/** A tool name an OpenAPI operation may have: what LLM tool names accept (the `{upstream}__` prefix comes on top). */
export const OPENAPI_TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
/** `{name}` segments of a path template. */
export const PATH_TEMPLATE_VARIABLE = /\{([^{}/]+)\}/g;

/** Where an argument goes in the HTTP request. */
export const PARAMETER_LOCATIONS = ["path", "query", "header"] as const;

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/** The request-body property of a tool's arguments. */
export const BODY_ARGUMENT = "body";

export function openApiTransportSchema() {
  const Parameter = z.strictObject({
    /** The parameter's name in the request, and the argument's name in the tool call. */
    name: text(),
    in: z.enum(PARAMETER_LOCATIONS),
    required: z.boolean().default(false),
    /** Arrays in a query: repeated (`a=1&a=2`, OpenAPI's default) or comma-joined (`explode: false`). */
    explode: z.boolean().default(true),
  });

  const Operation = z.strictObject({
    /** The upstream's own tool name (shown as `{upstream}__{tool}`). */
    tool: text().regex(OPENAPI_TOOL_NAME, {
      error: "expected a tool name: letters, digits, '_' or '-', at most 64 characters",
    }),
    method: z.enum(OPENAPI_METHODS),
    /** The path template below the base URL, e.g. `/tickets/{id}`. */
    path: text().regex(/^\/[^?#]*$/, { error: "expected a path template such as /tickets/{id}" }),
    description: z.string().optional(),
    parameters: z.array(Parameter).default([]),
    /** A JSON request body, taken from the `body` argument. */
    body: z.strictObject({ required: z.boolean(), contentType: text() }).optional(),
    /** The tool's input JSON Schema (`type: "object"`), as MCP clients see it. */
    inputSchema: z
      .record(z.string(), z.unknown())
      .refine((schema) => schema.type === "object", { error: 'expected a JSON Schema with type "object"' }),
  });

  return z
    .strictObject({
      type: z.literal("openapi"),
      /** Where the operations' paths are appended, e.g. `https://tickets.internal.example.com/v1`. */
      baseUrl: url(),
      operations: z.array(Operation).min(1, { error: "an OpenAPI upstream needs at least one operation" }),
      /** Largest response body returned as a tool result, in bytes; a larger one is an error result. */
      maxResponseBytes: z
        .int()
        .min(1024)
        .max(64 * 1024 * 1024)
        .default(1024 * 1024),
    })
    .superRefine((transport, ctx) => {
      const seen = new Set<string>();
      transport.operations.forEach((operation, i) => {
        const at = (...rest: (string | number)[]) => ["operations", i, ...rest];
        if (seen.has(operation.tool))
          ctx.addIssue({ code: "custom", path: at("tool"), message: `duplicate tool "${operation.tool}"` });
        seen.add(operation.tool);
        const inTemplate = new Set([...operation.path.matchAll(PATH_TEMPLATE_VARIABLE)].map((m) => m[1]));
        const names = new Set<string>();
        operation.parameters.forEach((parameter, j) => {
          if (names.has(parameter.name) || parameter.name === BODY_ARGUMENT)
            ctx.addIssue({
              code: "custom",
              path: at("parameters", j, "name"),
              message: `argument "${parameter.name}" is taken twice (parameters and the request body share one argument object)`,
            });
          names.add(parameter.name);
          if (parameter.in === "header" && !HEADER_NAME.test(parameter.name))
            ctx.addIssue({
              code: "custom",
              path: at("parameters", j, "name"),
              message: `"${parameter.name}" is not a valid HTTP header name`,
            });
          if (parameter.in === "path" && (!parameter.required || !inTemplate.has(parameter.name)))
            ctx.addIssue({
              code: "custom",
              path: at("parameters", j),
              message: `path parameter "${parameter.name}" must be required and appear as {${parameter.name}} in ${operation.path}`,
            });
        });
        for (const variable of inTemplate)
          if (!operation.parameters.some((p) => p.in === "path" && p.name === variable))
            ctx.addIssue({
              code: "custom",
              path: at("path"),
              message: `{${variable}} has no path parameter`,
            });
      });
    });
}

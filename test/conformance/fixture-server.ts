/**
 * The conformance fixture upstream: an MCP server (SDK low-level `Server`, streamable HTTP, one server per
 * session) that offers the tools, resources and prompts `@modelcontextprotocol/conformance` 0.1.16 calls by
 * name in server mode. The gateway fronts it in `conformance.test.ts`. Written for this project from the
 * scenario descriptions; content values are what the scenarios check.
 */
import { createServer } from "node:http";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  ElicitResultSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type CallToolResult,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import { closeServer, listen } from "../runtime/mcp-fixtures.js";
import { mcpSessionHandler } from "../support/mcp-session-http.js";

/** A 1×1 PNG and a tiny WAV header, base64. */
const PNG_1X1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
const WAV_TINY = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=";

const EMPTY_OBJECT = { type: "object" as const, properties: {} };

const TOOLS: Tool[] = [
  { name: "test_simple_text", description: "Returns simple text", inputSchema: EMPTY_OBJECT },
  { name: "test_image_content", description: "Returns an image", inputSchema: EMPTY_OBJECT },
  { name: "test_audio_content", description: "Returns audio", inputSchema: EMPTY_OBJECT },
  { name: "test_embedded_resource", description: "Returns an embedded resource", inputSchema: EMPTY_OBJECT },
  { name: "test_multiple_content_types", description: "Returns text, image and resource", inputSchema: EMPTY_OBJECT },
  { name: "test_tool_with_logging", description: "Logs while running", inputSchema: EMPTY_OBJECT },
  { name: "test_tool_with_progress", description: "Reports progress", inputSchema: EMPTY_OBJECT },
  { name: "test_error_handling", description: "Always fails", inputSchema: EMPTY_OBJECT },
  {
    name: "test_sampling",
    description: "Asks the client for a completion",
    inputSchema: { type: "object", properties: { prompt: { type: "string" } }, required: ["prompt"] },
  },
  {
    name: "test_elicitation",
    description: "Asks the user for input",
    inputSchema: { type: "object", properties: { message: { type: "string" } }, required: ["message"] },
  },
  { name: "test_elicitation_sep1034_defaults", description: "Elicitation with defaults", inputSchema: EMPTY_OBJECT },
  { name: "test_elicitation_sep1330_enums", description: "Elicitation with enums", inputSchema: EMPTY_OBJECT },
  {
    name: "json_schema_2020_12_tool",
    description: "JSON Schema 2020-12 input schema",
    inputSchema: {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      $defs: { address: { type: "object", properties: { street: { type: "string" }, city: { type: "string" } } } },
      properties: { name: { type: "string" }, address: { $ref: "#/$defs/address" } },
      additionalProperties: false,
    },
  },
];

const elicitForms: Record<string, { message: string; requestedSchema: Record<string, unknown> }> = {
  test_elicitation_sep1034_defaults: {
    message: "Please review the fields (defaults provided)",
    requestedSchema: {
      type: "object",
      properties: {
        name: { type: "string", default: "John Doe" },
        age: { type: "integer", default: 30 },
        score: { type: "number", default: 95.5 },
        status: { type: "string", enum: ["active", "inactive", "pending"], default: "active" },
        verified: { type: "boolean", default: true },
      },
    },
  },
  test_elicitation_sep1330_enums: {
    message: "Please pick options",
    requestedSchema: {
      type: "object",
      properties: {
        untitledSingle: { type: "string", enum: ["option1", "option2", "option3"] },
        titledSingle: {
          type: "string",
          oneOf: [
            { const: "value1", title: "First" },
            { const: "value2", title: "Second" },
            { const: "value3", title: "Third" },
          ],
        },
        legacyEnum: { type: "string", enum: ["opt1", "opt2", "opt3"], enumNames: ["One", "Two", "Three"] },
        untitledMulti: {
          type: "array",
          minItems: 1,
          maxItems: 3,
          items: { type: "string", enum: ["option1", "option2", "option3"] },
        },
        titledMulti: {
          type: "array",
          minItems: 1,
          maxItems: 3,
          items: {
            anyOf: [
              { const: "value1", title: "First" },
              { const: "value2", title: "Second" },
              { const: "value3", title: "Third" },
            ],
          },
        },
      },
    },
  },
};

function buildServer(): Server {
  const server = new Server(
    { name: "tollgate-conformance-fixture", version: "1.0.0" },
    {
      capabilities: {
        tools: { listChanged: true },
        resources: { subscribe: true, listChanged: true },
        prompts: { listChanged: true },
        logging: {},
        completions: {},
      },
    },
  );
  const log = (data: string) => server.sendLoggingMessage({ level: "info", logger: "fixture", data }).catch(() => {});

  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: TOOLS }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    const args = request.params.arguments ?? {};
    switch (request.params.name) {
      case "test_simple_text":
        return { content: [{ type: "text", text: "This is a simple text response for testing." }] };
      case "test_image_content":
        return { content: [{ type: "image", data: PNG_1X1, mimeType: "image/png" }] };
      case "test_audio_content":
        return { content: [{ type: "audio", data: WAV_TINY, mimeType: "audio/wav" }] };
      case "test_embedded_resource":
        return {
          content: [
            {
              type: "resource",
              resource: {
                uri: "test://embedded-resource",
                mimeType: "text/plain",
                text: "This is an embedded resource content.",
              },
            },
          ],
        };
      case "test_multiple_content_types":
        return {
          content: [
            { type: "text", text: "Multiple content types test:" },
            { type: "image", data: PNG_1X1, mimeType: "image/png" },
            {
              type: "resource",
              resource: {
                uri: "test://mixed-content-resource",
                mimeType: "application/json",
                text: JSON.stringify({ test: "data", value: 123 }),
              },
            },
          ],
        };
      case "test_tool_with_logging":
        for (const data of ["Tool execution started", "Tool processing data", "Tool execution completed"]) {
          await extra.sendNotification({ method: "notifications/message", params: { level: "info", data } });
        }
        return { content: [{ type: "text", text: "Tool with logging executed successfully" }] };
      case "test_tool_with_progress": {
        const progressToken = extra._meta?.progressToken ?? 0;
        for (const progress of [0, 50, 100]) {
          await extra.sendNotification({
            method: "notifications/progress",
            params: { progressToken, progress, total: 100, message: `step ${progress}` },
          });
        }
        return { content: [{ type: "text", text: String(progressToken) }] };
      }
      case "test_error_handling":
        return {
          content: [{ type: "text", text: "This tool intentionally returns an error for testing" }],
          isError: true,
        };
      case "test_sampling": {
        const result = await server.createMessage(
          { messages: [{ role: "user", content: { type: "text", text: String(args.prompt ?? "") } }], maxTokens: 100 },
          { relatedRequestId: extra.requestId },
        );
        const text =
          result.content && !Array.isArray(result.content) && result.content.type === "text"
            ? result.content.text
            : "No response";
        return { content: [{ type: "text", text: `LLM response: ${text}` }] };
      }
      case "test_elicitation":
      case "test_elicitation_sep1034_defaults":
      case "test_elicitation_sep1330_enums": {
        const form = elicitForms[request.params.name] ?? {
          message: String(args.message ?? ""),
          requestedSchema: {
            type: "object",
            properties: {
              username: { type: "string", description: "User's response" },
              email: { type: "string", description: "User's email address" },
            },
            required: ["username", "email"],
          },
        };
        const result = await extra.sendRequest(
          { method: "elicitation/create", params: { mode: "form", ...form } },
          ElicitResultSchema,
        );
        return {
          content: [
            {
              type: "text",
              text: `User response: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`,
            },
          ],
        };
      }
      case "json_schema_2020_12_tool":
        return { content: [{ type: "text", text: `called with ${JSON.stringify(args)}` }] };
      default:
        throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${request.params.name}`);
    }
  });

  const resources = [
    { uri: "test://static-text", name: "static-text", mimeType: "text/plain" },
    { uri: "test://static-binary", name: "static-binary", mimeType: "image/png" },
    { uri: "test://watched-resource", name: "watched-resource", mimeType: "text/plain" },
  ];
  server.setRequestHandler(ListResourcesRequestSchema, async () => ({ resources }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({
    resourceTemplates: [{ uriTemplate: "test://template/{id}/data", name: "template", mimeType: "application/json" }],
  }));
  server.setRequestHandler(ReadResourceRequestSchema, async (request) => {
    const uri = request.params.uri;
    if (uri === "test://static-text")
      return { contents: [{ uri, mimeType: "text/plain", text: "This is the content of the static text resource." }] };
    if (uri === "test://static-binary") return { contents: [{ uri, mimeType: "image/png", blob: PNG_1X1 }] };
    if (uri === "test://watched-resource")
      return { contents: [{ uri, mimeType: "text/plain", text: "Watched resource content" }] };
    const id = /^test:\/\/template\/([^/]+)\/data$/.exec(uri)?.[1];
    if (id)
      return {
        contents: [
          {
            uri,
            mimeType: "application/json",
            text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }),
          },
        ],
      };
    throw new McpError(ErrorCode.InvalidParams, `Unknown resource: ${uri}`);
  });
  server.setRequestHandler(SubscribeRequestSchema, async (request) => {
    void log(`Subscribed to resource: ${request.params.uri}`);
    return {};
  });
  server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
    void log(`Unsubscribed from resource: ${request.params.uri}`);
    return {};
  });

  server.setRequestHandler(ListPromptsRequestSchema, async () => ({
    prompts: [
      { name: "test_simple_prompt", description: "A simple prompt" },
      {
        name: "test_prompt_with_arguments",
        description: "A prompt with arguments",
        arguments: [
          { name: "arg1", required: true },
          { name: "arg2", required: true },
        ],
      },
      {
        name: "test_prompt_with_embedded_resource",
        description: "A prompt with a resource",
        arguments: [{ name: "resourceUri", required: true }],
      },
      { name: "test_prompt_with_image", description: "A prompt with an image" },
    ],
  }));
  server.setRequestHandler(GetPromptRequestSchema, async (request) => {
    const args = request.params.arguments ?? {};
    switch (request.params.name) {
      case "test_simple_prompt":
        return {
          messages: [{ role: "user", content: { type: "text", text: "This is a simple prompt for testing." } }],
        };
      case "test_prompt_with_arguments":
        return {
          messages: [
            {
              role: "user",
              content: { type: "text", text: `Prompt with arguments: arg1='${args.arg1}', arg2='${args.arg2}'` },
            },
          ],
        };
      case "test_prompt_with_embedded_resource":
        return {
          messages: [
            {
              role: "user",
              content: {
                type: "resource",
                resource: {
                  uri: args.resourceUri ?? "test://example-resource",
                  mimeType: "text/plain",
                  text: "Embedded resource content for testing.",
                },
              },
            },
            { role: "user", content: { type: "text", text: "Please process the embedded resource above." } },
          ],
        };
      case "test_prompt_with_image":
        return {
          messages: [
            { role: "user", content: { type: "image", data: PNG_1X1, mimeType: "image/png" } },
            { role: "user", content: { type: "text", text: "Please analyze the image above." } },
          ],
        };
      default:
        throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${request.params.name}`);
    }
  });

  server.setRequestHandler(SetLevelRequestSchema, async () => ({}));
  server.setRequestHandler(CompleteRequestSchema, async () => ({
    completion: { values: [], total: 0, hasMore: false },
  }));
  return server;
}

export interface FixtureServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Starts the fixture on 127.0.0.1 (ephemeral port); `url` is its MCP endpoint. */
export async function startConformanceFixture(): Promise<FixtureServer> {
  const { handle, closeAll } = mcpSessionHandler(buildServer);
  const http = createServer(
    (req, res) => void handle(req, res).catch(() => res.headersSent || res.writeHead(500).end()),
  );
  const url = `${await listen(http)}/mcp`;
  return {
    url,
    close: async () => {
      await closeAll();
      await closeServer(http);
    },
  };
}

/**
 * A tiny MCP client for the tour: the official MCP SDK `Client` over streamable HTTP, with a bearer token.
 *
 *   npx tsx examples/local-platform/mcp-client.ts --token "$TOKEN" list
 *   npx tsx examples/local-platform/mcp-client.ts --token "$TOKEN" call <upstream>__<tool> '{"query":"x"}'
 *
 * `--url` defaults to the running local platform's gateway (`.tollgate-local/state.json`) + `/mcp`.
 * HTTP refusals (401, 403 insufficient_scope) are printed with the gateway's WWW-Authenticate header.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const USAGE = "usage: mcp-client.ts --token <token> [--url <gateway>/mcp] list | call <tool> [json arguments]";

/** Connects an MCP SDK client to `url` with `Authorization: Bearer <token>`. */
export async function connectMcp(url: string, token: string): Promise<Client> {
  const client = new Client({ name: "tollgate-tour", version: "1.0.0" });
  // Keep the gateway's WWW-Authenticate visible: the SDK turns HTTP errors into exceptions.
  const fetchWithChallenge: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    if (response.status === 401 || response.status === 403) {
      const challenge = response.headers.get("www-authenticate");
      const body = await response.text();
      throw new Error(
        `HTTP ${response.status}${challenge ? `\nWWW-Authenticate: ${challenge}` : ""}${body ? `\n${body}` : ""}`,
      );
    }
    return response;
  };
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
    fetch: fetchWithChallenge,
  });
  await client.connect(transport);
  return client;
}

/** Ends the session on the gateway (DELETE, which stops its upstream MCP servers), then the client. */
export async function closeMcp(client: Client): Promise<void> {
  await (client.transport as StreamableHTTPClientTransport | undefined)?.terminateSession().catch(() => undefined);
  await client.close();
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: { token: { type: "string" }, url: { type: "string" } },
    allowPositionals: true,
  });
  const [command, tool, args] = positionals;
  if (!values.token || (command !== "list" && command !== "call") || (command === "call" && !tool)) {
    console.error(USAGE);
    return 2;
  }
  let url = values.url;
  if (!url) {
    const statePath = resolve(process.env.TOLLGATE_LOCAL_DIR ?? ".tollgate-local", "state.json");
    const state = JSON.parse(
      await readFile(statePath, "utf8").catch(() => {
        throw new Error(`${statePath} not found: start the local platform (npm start) or pass --url`);
      }),
    ) as { gatewayUrl: string };
    url = `${state.gatewayUrl}/mcp`;
  }
  const client = await connectMcp(url, values.token);
  try {
    if (command === "list") {
      const { tools } = await client.listTools();
      for (const t of tools)
        console.log(`${t.name}${t.description ? `  ${t.description.split("\n")[0]?.slice(0, 80)}` : ""}`);
      if (tools.length === 0) console.log("(no tool is visible with these scopes)");
    } else {
      const result = await client.callTool({
        name: tool as string,
        arguments: args ? (JSON.parse(args) as Record<string, unknown>) : {},
      });
      console.log(JSON.stringify(result, null, 2));
    }
    return 0;
  } finally {
    await closeMcp(client);
  }
}

if (process.argv[1] && resolve(process.argv[1]).endsWith("mcp-client.ts")) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error((error as Error).message);
      process.exit(1);
    },
  );
}

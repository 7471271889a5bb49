/**
 * The MCP upstreams of bench/mcp.ts in a process of their own (started by ./mcp-upstreams.ts): the web fixture
 * (`get_time`) and the records upstream (`get_records`). Reports their URLs over IPC and exits when its parent
 * says so or goes away.
 */
import { startHttpUpstream } from "../../test/runtime/mcp-fixtures.js";
import type { McpUpstreamUrls } from "./mcp-upstreams.js";
import { startRecordsUpstream } from "./records-upstream.js";

const piiFraction = Number(process.argv[2] ?? 0);
const web = await startHttpUpstream();
const records = await startRecordsUpstream({ piiFraction });
process.send?.({ web: web.url, records: records.url } satisfies McpUpstreamUrls);
const stop = () => void Promise.all([web.close(), records.close()]).finally(() => process.exit(0));
process.on("message", (m: { type?: string }) => m.type === "exit" && stop());
process.on("disconnect", stop);

/**
 * Progressive discovery (an endpoint's `discovery: "progressive"`): instead of every allowed tool, `tools/list`
 * shows two meta-tools and the session's working set. The client searches the catalog with
 * `tollgate_search_tools`, adds what it needs with `tollgate_select_tools`, and the gateway announces
 * `notifications/tools/list_changed` so the client lists again and sees the working set.
 *
 * Authorization does not change: the catalog searched is the caller's allowed catalog on this endpoint (the
 * same `decideTool` with the scopes of the request being handled), so a tool the scopes hide is never found,
 * never selected (it is "not found", exactly as a tool that does not exist), and listing re-decides every
 * working-set entry with the scopes of the listing request. Selecting is not authorizing: a call is decided
 * as on any endpoint, and an allowed tool may be called without selecting it first (a stateless client,
 * which receives no notification, calls what its search returned).
 */
import type { CallToolResult, Tool } from "@modelcontextprotocol/sdk/types.js";
import { type CompiledToolPolicy, type NamedItem, decideTool } from "../../policies/tools/index.js";

export const SEARCH_TOOL = "tollgate_search_tools";
export const SELECT_TOOL = "tollgate_select_tools";
const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 50;
/** Tools one session may hold in its working set: a client that selects everything is back to a full list. */
export const MAX_WORKING_SET = 64;

export const META_TOOLS: readonly Tool[] = [
  {
    name: SEARCH_TOOL,
    title: "Search the tool catalog",
    description:
      "Searches the tools you may use on this endpoint by words in their names and descriptions (all words must match; no query browses the whole catalog). Returns names and descriptions, a page at a time. Add the tools you need with tollgate_select_tools.",
    inputSchema: {
      type: "object",
      properties: {
        query: { type: "string", description: "Words to look for; omit to browse." },
        limit: { type: "integer", minimum: 1, maximum: MAX_LIMIT, description: `Results per page (${DEFAULT_LIMIT}).` },
        cursor: { type: "string", description: "nextCursor of the previous page." },
      },
    },
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  {
    name: SELECT_TOOL,
    title: "Select tools for the working set",
    description: `Adds tools (by the names tollgate_search_tools returned) to your working set, removes them, or replaces the set; tools/list then shows them. At most ${MAX_WORKING_SET} tools.`,
    inputSchema: {
      type: "object",
      properties: {
        names: { type: "array", items: { type: "string" }, description: "Tool names." },
        mode: { type: "string", enum: ["add", "remove", "replace"], description: "add (default), remove or replace." },
      },
      required: ["names"],
    },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  },
];

export function isMetaTool(name: string): boolean {
  return name === SEARCH_TOOL || name === SELECT_TOOL;
}

/** The tools of one endpoint's session, as discovery reads them. */
export interface Catalog {
  readonly items: readonly NamedItem[];
  /** The upstream's definition of an item (undefined while its upstream is not ready). */
  definition(item: NamedItem): Tool | undefined;
}

interface Found {
  readonly item: NamedItem;
  readonly tool: Tool;
}

/**
 * The caller's allowed catalog: every tool the endpoint shows that the scopes allow, in table order (what
 * `tools/list` shows on an endpoint without progressive discovery).
 */
export function allowedTools(catalog: Catalog, scopes: readonly string[], policy: CompiledToolPolicy): Found[] {
  return catalog.items.flatMap((item) => {
    if (!decideTool(scopes, item.upstreamId, item.name, policy).allowed) return [];
    const tool = catalog.definition(item);
    return tool ? [{ item, tool }] : [];
  });
}

function matches(found: Found, words: readonly string[]): boolean {
  const text = `${found.item.exposed} ${found.tool.title ?? ""} ${found.tool.description ?? ""}`.toLowerCase();
  return words.every((word) => text.includes(word));
}

const result = (structured: Record<string, unknown>, isError = false): CallToolResult => ({
  content: [{ type: "text", text: JSON.stringify(structured) }],
  structuredContent: structured,
  ...(isError ? { isError: true } : {}),
});

function argumentError(message: string): CallToolResult {
  return { content: [{ type: "text", text: message }], isError: true };
}

/** `tollgate_search_tools`: a page of the allowed catalog matching every word of the query. */
export function search(allowed: readonly Found[], args: Record<string, unknown>): CallToolResult {
  const query = args.query ?? "";
  const limit = args.limit ?? DEFAULT_LIMIT;
  const cursor = args.cursor ?? "0";
  if (typeof query !== "string") return argumentError("query: expected a string");
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
    return argumentError(`limit: expected an integer from 1 to ${MAX_LIMIT}`);
  const offset = typeof cursor === "string" && /^\d{1,6}$/.test(cursor) ? Number(cursor) : -1;
  if (offset < 0) return argumentError("cursor: expected the nextCursor of a previous page");
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const hits = allowed.filter((found) => matches(found, words));
  const page = hits.slice(offset, offset + limit);
  const next = offset + limit < hits.length ? String(offset + limit) : undefined;
  return result({
    total: hits.length,
    tools: page.map(({ item, tool }) => ({
      name: item.exposed,
      ...(tool.title ? { title: tool.title } : {}),
      ...(tool.description ? { description: tool.description } : {}),
    })),
    ...(next ? { nextCursor: next } : {}),
  });
}

/**
 * `tollgate_select_tools`: changes `workingSet` (exposed names). A name outside the allowed catalog is reported
 * in `notFound`, whether it does not exist, is hidden by the scopes or is outside the endpoint.
 * @returns the answer, and whether the set changed (the caller then announces list_changed).
 */
export function select(
  allowed: readonly Found[],
  workingSet: Set<string>,
  args: Record<string, unknown>,
): { readonly result: CallToolResult; readonly changed: boolean } {
  const names = args.names;
  const mode = args.mode ?? "add";
  if (!Array.isArray(names) || !names.every((n): n is string => typeof n === "string"))
    return { result: argumentError("names: expected an array of tool names"), changed: false };
  if (mode !== "add" && mode !== "remove" && mode !== "replace")
    return { result: argumentError('mode: expected "add", "remove" or "replace"'), changed: false };
  const known = new Set(allowed.map((f) => f.item.exposed));
  const notFound = [...new Set(names.filter((n) => !known.has(n)))];
  const valid = names.filter((n) => known.has(n));
  const next = new Set(mode === "replace" ? [] : workingSet);
  for (const name of valid) {
    if (mode === "remove") next.delete(name);
    else next.add(name);
  }
  if (next.size > MAX_WORKING_SET)
    return {
      result: argumentError(
        `the working set would hold ${next.size} tools, more than ${MAX_WORKING_SET}: remove some first (mode "remove")`,
      ),
      changed: false,
    };
  const changed = next.size !== workingSet.size || [...next].some((n) => !workingSet.has(n));
  workingSet.clear();
  for (const name of next) workingSet.add(name);
  return { result: result({ workingSet: [...workingSet].sort(), notFound }), changed };
}

/** `tools/list` of a progressive endpoint: the meta-tools, then the working set's tools the scopes still allow. */
export function listed(allowed: readonly Found[], workingSet: ReadonlySet<string>): Tool[] {
  return [
    ...META_TOOLS,
    ...allowed.filter((f) => workingSet.has(f.item.exposed)).map(({ item, tool }) => ({ ...tool, name: item.exposed })),
  ];
}

import type { IConstruct } from "constructs";
import type { IMcpUpstream, ToolDenyRecord, ToolGrantRecord } from "./refs.js";

/**
 * The tool grants and deny rules of a scope set, kept in the order they were made. Shared by the scopes
 * Tollgate creates and the scopes it imports, so a grant means the same whichever the scopes are. A bad
 * call throws at the call, naming the scope set's construct path and the fix.
 */
export class ToolGrants {
  private readonly grantRecords: ToolGrantRecord[] = [];
  private readonly denyRecords: ToolDenyRecord[] = [];

  /**
   * @param owner the scope set the grants belong to (its path is in every error)
   * @param api how the caller spells the scope set in errors, e.g. `McpScopes`
   */
  public constructor(
    private readonly owner: IConstruct,
    private readonly api: string,
  ) {}

  public grant(scope: string, upstream: IMcpUpstream, patterns: readonly string[]): ToolGrantRecord {
    const call = `${this.owner.node.path}: ${this.api}.grantTools(${JSON.stringify(scope)}, ${describe(upstream)})`;
    requireMcpUpstream(upstream, call);
    if (patterns.length === 0) throw new Error(`${call}: give at least one tool pattern, e.g. "search_*"`);
    requirePatterns(patterns, call);
    const record: ToolGrantRecord = { scope, upstream, tools: [...patterns] };
    this.grantRecords.push(record);
    return record;
  }

  public deny(upstream: IMcpUpstream | "*", patterns: readonly string[], reason: string): ToolDenyRecord {
    const target = upstream === "*" ? '"*"' : describe(upstream);
    const call = `${this.owner.node.path}: ${this.api}.denyTools(${target})`;
    if (upstream !== "*") requireMcpUpstream(upstream, call);
    if (patterns.length === 0) throw new Error(`${call}: give at least one tool pattern, e.g. "delete_*"`);
    requirePatterns(patterns, call);
    if (reason.trim().length === 0) throw new Error(`${call}: give the reason, it is shown to the refused caller`);
    const record: ToolDenyRecord = { upstream, tools: [...patterns], reason };
    this.denyRecords.push(record);
    return record;
  }

  public get grants(): readonly ToolGrantRecord[] {
    return [...this.grantRecords];
  }

  public get denies(): readonly ToolDenyRecord[] {
    return [...this.denyRecords];
  }
}

function describe(upstream: IMcpUpstream): string {
  return JSON.stringify((upstream as Partial<IMcpUpstream> | undefined)?.upstreamId ?? String(upstream));
}

/** The types already refuse an LLM route; this catches JavaScript callers and casts. */
function requireMcpUpstream(upstream: IMcpUpstream, call: string): void {
  if ((upstream as Partial<IMcpUpstream> | undefined)?.kind !== "mcp") {
    throw new Error(`${call}: not an MCP upstream: tools are granted on an MCP upstream (GatewayRoute.mcp(...))`);
  }
}

function requirePatterns(patterns: readonly string[], call: string): void {
  for (const pattern of patterns) {
    if (typeof pattern !== "string" || pattern.trim().length === 0)
      throw new Error(
        `${call}: tool patterns are tool names with optional "*" wildcards, got ${JSON.stringify(pattern)}`,
      );
  }
}

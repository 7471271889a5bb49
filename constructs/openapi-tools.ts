import type { OpenApiTool, ToolAccess } from "../policies/openapi/tools.js";
import { matchesToolPattern } from "../policies/tools/pattern.js";
import { DESTRUCTIVE_TOOL_PATTERNS } from "./destructive-tools.js";
import type { IMcpUpstream, IScopeSet, ToolGrantRecord } from "./refs.js";

/** One tool of an OpenAPI route, as the construct reports it. */
export interface OpenApiToolInfo {
  /** The upstream's own tool name (shown as `{upstreamId}__{name}`). */
  readonly name: string;
  readonly access: ToolAccess;
  readonly method: string;
  readonly path: string;
}

/**
 * The tools of a `GatewayRoute.openapi` upstream, by access (read: GET and HEAD by default, write: the rest),
 * and the grants that give them to scopes.
 */
export class OpenApiToolSet {
  public readonly tools: readonly OpenApiToolInfo[];

  public constructor(
    private readonly upstream: IMcpUpstream,
    tools: readonly OpenApiTool[],
  ) {
    this.tools = tools.map((t) => ({
      name: t.operation.tool,
      access: t.access,
      method: t.operation.method,
      path: t.operation.path,
    }));
  }

  /** Names of the read tools. */
  public get readTools(): readonly string[] {
    return this.tools.filter((t) => t.access === "read").map((t) => t.name);
  }

  /** Names of the write tools. */
  public get writeTools(): readonly string[] {
    return this.tools.filter((t) => t.access === "write").map((t) => t.name);
  }

  /**
   * Grants the read tools to `access.read` and the write tools to `access.write`, by name (so a review diff
   * shows every tool). Tools that match the destructive patterns (`*delete*`, …) are never granted: they stay
   * always-blocked, and granting them would fail synth (TG-TOOL-001). Returns the grants made.
   */
  public grantAccess<S extends string>(
    scopes: IScopeSet<S>,
    access: { readonly read?: NoInfer<S>; readonly write?: NoInfer<S> },
  ): ToolGrantRecord[] {
    const grants: ToolGrantRecord[] = [];
    for (const kind of ["read", "write"] as const) {
      const scope = access[kind];
      if (scope === undefined) continue;
      const names = this.tools
        .filter((t) => t.access === kind && !DESTRUCTIVE_TOOL_PATTERNS.some((p) => matchesToolPattern(p, t.name)))
        .map((t) => t.name);
      if (names.length > 0) grants.push(scopes.grantTools(scope, this.upstream, ...names));
    }
    return grants;
  }
}

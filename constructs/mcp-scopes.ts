import { Construct } from "constructs";
import { AuthServerScope } from "@cdktf/provider-okta/lib/auth-server-scope/index.js";
import type { IAuthorizationServer, IMcpUpstream, IScopeSet } from "./refs.js";

export type ScopeConsent = "REQUIRED" | "IMPLICIT";

export interface ScopeSpec {
  /** Scope name as tokens carry it, e.g. `mcp:read`. */
  readonly name: string;
  /** @default `Tollgate scope ${name}` */
  readonly description?: string;
  /**
   * Whether the user is asked before an app gets the scope.
   * @default "REQUIRED" for privileged scopes, "IMPLICIT" otherwise
   */
  readonly consent?: ScopeConsent;
}

export interface McpScopesProps {
  /** The authorization server the scopes are created on. */
  readonly authServer: IAuthorizationServer;
  /**
   * Scopes to create.
   * @default mcp:read, mcp:write, mcp:admin
   */
  readonly scopes?: readonly (ScopeSpec | string)[];
  /**
   * Scopes that need explicit user consent. A privileged scope without consent fails synth (TG-SCOPE-001).
   * @default ["mcp:admin"]
   */
  readonly privileged?: readonly string[];
}

/** What `grantTools` granted: holders of `scope` may see and call `tools` of `upstream`. */
export interface ToolGrantRecord {
  readonly scope: string;
  readonly upstream: IMcpUpstream;
  readonly tools: readonly string[];
}

/** What `denyTools` denied, for every scope. */
export interface ToolDenyRecord {
  readonly upstream: IMcpUpstream | "*";
  readonly tools: readonly string[];
  readonly reason: string;
}

/**
 * The OAuth scopes that gate MCP tools: one `okta_auth_server_scope` per scope, consent REQUIRED on
 * privileged scopes, and the grants that map scopes to tool patterns of upstreams (fed to the bundle).
 */
export class McpScopes extends Construct implements IScopeSet {
  /** Names of the scopes this construct owns, for rules and for the bundle. */
  public readonly names: readonly string[];
  /** Scopes that require consent. */
  public readonly privileged: readonly string[];
  /** Scope name → consent as configured. */
  public readonly consent: Readonly<Record<string, ScopeConsent>>;
  /** The Terraform resources, by scope name. */
  public readonly resources: Readonly<Record<string, AuthServerScope>>;
  private readonly grantRecords: ToolGrantRecord[] = [];
  private readonly denyRecords: ToolDenyRecord[] = [];

  constructor(scope: Construct, id: string, props: McpScopesProps) {
    super(scope, id);
    const specs = (props.scopes ?? ["mcp:read", "mcp:write", "mcp:admin"]).map((s) =>
      typeof s === "string" ? { name: s } : s,
    );
    this.privileged = props.privileged ?? ["mcp:admin"];
    this.names = specs.map((s) => s.name);
    const consent: Record<string, ScopeConsent> = {};
    const resources: Record<string, AuthServerScope> = {};
    for (const spec of specs) {
      consent[spec.name] = spec.consent ?? (this.privileged.includes(spec.name) ? "REQUIRED" : "IMPLICIT");
      resources[spec.name] = new AuthServerScope(this, scopeConstructId(spec.name), {
        authServerId: props.authServer.authServerId,
        name: spec.name,
        description: spec.description ?? `Tollgate scope ${spec.name}`,
        consent: consent[spec.name],
        metadataPublish: "ALL_CLIENTS",
      });
    }
    this.consent = consent;
    this.resources = resources;
    props.authServer.allowScopes(this.names, Object.values(resources), this.privileged);
    this.node.addValidation({ validate: () => this.checkNames(specs) });
  }

  /** Lets holders of `scopeName` see and call the tools of `upstream` matching `patterns` (`*` wildcards). */
  public grantTools(scopeName: string, upstream: IMcpUpstream, ...patterns: string[]): ToolGrantRecord {
    const record: ToolGrantRecord = { scope: scopeName, upstream, tools: patterns };
    this.grantRecords.push(record);
    return record;
  }

  /** Hides and refuses tools of `upstream` (or every upstream: `"*"`) whatever the scopes. Deny wins over grants. */
  public denyTools(upstream: IMcpUpstream | "*", patterns: readonly string[], reason: string): ToolDenyRecord {
    const record: ToolDenyRecord = { upstream, tools: patterns, reason };
    this.denyRecords.push(record);
    return record;
  }

  /** Every grant made so far, in order. */
  public get grants(): readonly ToolGrantRecord[] {
    return [...this.grantRecords];
  }

  /** Every deny rule made so far, in order. */
  public get denies(): readonly ToolDenyRecord[] {
    return [...this.denyRecords];
  }

  private checkNames(specs: readonly ScopeSpec[]): string[] {
    const errors: string[] = [];
    const seen = new Set<string>();
    for (const spec of specs) {
      if (seen.has(spec.name)) errors.push(`McpScopes.scopes: duplicate scope "${spec.name}"`);
      seen.add(spec.name);
      if (!/^[a-zA-Z0-9:._-]+$/.test(spec.name))
        errors.push(`McpScopes.scopes: "${spec.name}" must be letters, digits, ':', '.', '_' or '-'`);
    }
    for (const name of this.privileged) {
      if (!seen.has(name))
        errors.push(`McpScopes.privileged: "${name}" is not one of the scopes (${this.names.join(", ")})`);
    }
    for (const grant of this.grantRecords) {
      if (grant.tools.length === 0)
        errors.push(
          `McpScopes.grantTools("${grant.scope}", "${grant.upstream.upstreamId}"): give at least one tool pattern`,
        );
    }
    return errors;
  }
}

/** Construct id of a scope resource: a Terraform address, never rename casually. */
function scopeConstructId(name: string): string {
  return `Scope_${name.replace(/[^a-zA-Z0-9]/g, "_")}`;
}

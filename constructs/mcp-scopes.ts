import { Construct } from "constructs";
import { AuthServerScope } from "@cdktf/provider-okta/lib/auth-server-scope/index.js";
import { TollgateChecks } from "./checks.js";
import { markKind } from "./construct-kind.js";
import { type ExistingScopesProps, ImportedScopeSet, scopeNameProblem } from "./imported-okta.js";
import type {
  IAuthorizationServer,
  IMcpUpstream,
  IScopeSet,
  ScopeConsent,
  ToolDenyRecord,
  ToolGrantRecord,
} from "./refs.js";
import { ToolGrants } from "./tool-grants.js";

export interface ScopeSpec<S extends string = string> {
  /** Scope name as tokens carry it, e.g. `mcp:read`. */
  readonly name: S;
  /** @default `Tollgate scope ${name}` */
  readonly description?: string;
  /**
   * Whether the user is asked before an app gets the scope.
   * @default "REQUIRED" for privileged scopes, "IMPLICIT" otherwise
   */
  readonly consent?: ScopeConsent;
}

export interface McpScopesProps<S extends string = string> {
  /** The authorization server the scopes are created on. */
  readonly authServer: IAuthorizationServer;
  /**
   * Scopes to create. Listed as literals, their names become the only names `grantTools` accepts.
   * @default mcp:read, mcp:write, mcp:admin
   */
  readonly scopes?: readonly (ScopeSpec<S> | S)[];
  /**
   * Scopes that need explicit user consent; never issued to client credentials. A privileged scope without
   * consent fails synth (TG-SCOPE-001).
   * @default ["mcp:admin"]
   */
  readonly privileged?: readonly NoInfer<S>[];
}

/**
 * The OAuth scopes that gate MCP tools: one `okta_auth_server_scope` per scope, consent REQUIRED on
 * privileged scopes, and the grants that map scopes to tool patterns of upstreams (fed to the bundle).
 * For scopes that already exist on an authorization server, use `McpScopes.fromScopeNames`.
 * @typeParam S the scope names; literal when `scopes` is written out, so a misspelt scope in `grantTools`
 * does not compile
 */
export class McpScopes<const S extends string = string> extends Construct implements IScopeSet<S> {
  /**
   * Scopes that already exist on `authServer`: nothing is created on the server, grants work as on
   * `McpScopes`, and Terraform checks at plan that every name exists (`okta_auth_server_scopes` data source).
   */
  public static fromScopeNames<const S extends string>(
    scope: Construct,
    id: string,
    props: ExistingScopesProps<S>,
  ): IScopeSet<S> {
    return new ImportedScopeSet(scope, id, props);
  }

  /** Names of the scopes this construct owns, for rules and for the bundle. */
  public readonly names: readonly S[];
  /** Scopes that require consent. */
  public readonly privileged: readonly S[];
  /** Scope name → consent as configured. */
  public readonly consent: Readonly<Record<string, ScopeConsent>>;
  /** The Terraform resources, by scope name. */
  public readonly resources: Readonly<Record<string, AuthServerScope>>;
  private readonly toolGrants = new ToolGrants(this, "McpScopes");

  constructor(scope: Construct, id: string, props: McpScopesProps<S>) {
    super(scope, id);
    markKind(this, "McpScopes");
    TollgateChecks.ensureOn(this);
    const specs: ScopeSpec<S>[] = (props.scopes ?? (["mcp:read", "mcp:write", "mcp:admin"] as S[])).map((s) =>
      typeof s === "string" ? { name: s } : s,
    );
    checkNames(this, specs);
    this.privileged = props.privileged ?? (["mcp:admin"] as S[]);
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
    // Kept as a validation (not a throw) so the finding lists every stray name at synth.
    this.node.addValidation({
      validate: () =>
        this.privileged
          .filter((name) => !this.names.includes(name))
          .map((name) => `McpScopes.privileged: "${name}" is not one of the scopes (${this.names.join(", ")})`),
    });
  }

  public grantTools(scopeName: S, upstream: IMcpUpstream, ...patterns: string[]): ToolGrantRecord {
    return this.toolGrants.grant(scopeName, upstream, patterns);
  }

  public denyTools(upstream: IMcpUpstream | "*", patterns: readonly string[], reason: string): ToolDenyRecord {
    return this.toolGrants.deny(upstream, patterns, reason);
  }

  public get grants(): readonly ToolGrantRecord[] {
    return this.toolGrants.grants;
  }

  public get denies(): readonly ToolDenyRecord[] {
    return this.toolGrants.denies;
  }
}

/** Throws, at the caller's construct, on a duplicate scope or a name Okta would refuse. */
function checkNames(owner: Construct, specs: readonly ScopeSpec[]): void {
  const seen = new Set<string>();
  for (const spec of specs) {
    if (seen.has(spec.name))
      throw new Error(`${owner.node.path}: McpScopes.scopes: "${spec.name}" is listed twice: list each scope once`);
    seen.add(spec.name);
    const problem = scopeNameProblem(spec.name);
    if (problem) throw new Error(`${owner.node.path}: McpScopes.scopes: ${problem}`);
  }
}

/** Construct id of a scope resource: a Terraform address, never rename casually. */
function scopeConstructId(name: string): string {
  return `Scope_${name.replace(/[^a-zA-Z0-9]/g, "_")}`;
}

import { Construct } from "constructs";
import type { BundleInput, SecretRef } from "../policies/bundle/index.js";
import {
  type OpenApiOperationOptions,
  type OpenApiTool,
  openApiServerUrl,
  openApiTools,
} from "../policies/openapi/tools.js";
import { TollgateChecks } from "./checks.js";
import { markKind } from "./construct-kind.js";
import type { GuardPolicy } from "./guard-policy.js";
import type { OpenApiDocument } from "./openapi-document.js";
import { OpenApiToolSet } from "./openapi-tools.js";
import type { AgentClientAuthentication, IAuthorizationServer, IMcpUpstream, IOAuthClients } from "./refs.js";

type LlmRouteInput = NonNullable<NonNullable<BundleInput["llm"]>["routes"]>[number];
type ProviderInput = LlmRouteInput["providers"][number];
type McpUpstreamInput = NonNullable<BundleInput["mcp"]>["upstreams"] extends (infer U)[] | undefined ? U : never;

/** An LLM provider behind a route, tried in the order given. */
export interface LlmProviderProps {
  /** Stable id reported in `x-tollgate-provider` and audit events. */
  readonly id: string;
  readonly kind: "openai" | "anthropic" | "openai-compatible";
  /** API base, e.g. `https://api.openai.com/v1`, `https://api.anthropic.com`, `https://api.x.ai/v1`. */
  readonly baseUrl: string;
  /** Environment variable holding the key (fed from the gateway's Kubernetes Secret). Omit only for keyless local models. */
  readonly apiKeyEnv?: string;
  /** Requested model → this provider's model. @default {} (models pass through) */
  readonly modelMap?: Readonly<Record<string, string>>;
  /** @default 30000 */
  readonly timeoutMs?: number;
}

export interface LlmRouteProps {
  /**
   * Route id in the bundle, metrics and audit events: lower-case, ≤ 16 characters.
   * @default the construct id, lower-cased
   */
  readonly routeId?: string;
  /** Path prefix the route serves, e.g. `/anthropic`. */
  readonly pathPrefix: string;
  /** Tried in order; the first healthy one serves. */
  readonly providers: readonly LlmProviderProps[];
  /** @default ["429", "529", "5xx", "timeout", "connection-error"] */
  readonly failoverOn?: readonly ("429" | "529" | "5xx" | "timeout" | "connection-error")[];
  /** @default 30 */
  readonly evictSeconds?: number;
  /**
   * Longest silence in a provider's answer (before its first bytes, or between two reads) before it counts
   * as a timeout: failed over while nothing reached the client, an error event on a stream under way.
   * 1000 to 600000.
   * @default 30000
   */
  readonly idleTimeoutMs?: number;
  /**
   * Every route requires a verified token. `false` exists only so that a deliberate exception is
   * visible: it fails synth (TG-AUTH-001) unless suppressed with a reason.
   * @default true
   */
  readonly requireAuthentication?: boolean;
}

/** How the gateway authenticates to an MCP upstream. */
export type McpCredentials =
  | { readonly mode: "none" }
  /** A static secret sent in a header, e.g. `Authorization: Bearer $GITHUB_TOKEN`. */
  | { readonly mode: "secret-header"; readonly header: string; readonly secretEnv: string; readonly prefix?: string }
  /**
   * RFC 8693: the user's token is exchanged at Okta for one scoped to `audience` (sub = user, act = agent). The
   * gateway authenticates as the agent app, the way `clients.agentClientAuth` says (private_key_jwt by default).
   */
  | {
      readonly mode: "token-exchange";
      readonly authServer: IAuthorizationServer;
      readonly clients: IOAuthClients;
      readonly audience: string;
      readonly scopes?: readonly string[];
    }
  /**
   * The agent app's own token (client credentials grant), the same for every user: the upstream sees the agent,
   * never the user. The gateway authenticates as the agent app, like token exchange.
   */
  | {
      readonly mode: "client-credentials";
      readonly authServer: IAuthorizationServer;
      readonly clients: IOAuthClients;
      readonly scopes?: readonly string[];
      /** @default none (the authorization server's default audience) */
      readonly audience?: string;
    };

export interface McpRouteProps {
  /** Upstream id: tools appear as `${upstreamId}__${tool}`. Lower-case, ≤ 16 characters. */
  readonly upstreamId: string;
  /** Streamable-HTTP endpoint of the MCP server (`url`) or a stdio command (`command`). */
  readonly url?: string;
  readonly command?: string;
  /** @default [] */
  readonly args?: readonly string[];
  /**
   * Environment of a stdio child: literal values, or `{ env: "NAME" }` secret references (GatewayDeployment
   * provides them from the gateway's Secret). `{ file }` references are for a gateway deployed some other
   * way: GatewayDeployment mounts no secret files and refuses them at synth. @default {}
   */
  readonly env?: Readonly<Record<string, string | SecretRef>>;
  /** @default { mode: "none" } */
  readonly credentials?: McpCredentials;
  /** @default 60000 */
  readonly timeoutMs?: number;
  /** @default true — see LlmRouteProps.requireAuthentication */
  readonly requireAuthentication?: boolean;
}

export interface OpenApiRouteProps {
  /** Upstream id: tools appear as `${upstreamId}__${tool}`. Lower-case, ≤ 16 characters. */
  readonly upstreamId: string;
  /** The REST service's OpenAPI 3.0 or 3.1 document (`await OpenApiDocument.fromFile(...)` before synth). */
  readonly document: OpenApiDocument;
  /**
   * Where the operations' paths are appended, e.g. `https://tickets.internal.example.com/v1`.
   * @default the document's first `servers` URL (server variables at their defaults)
   */
  readonly baseUrl?: string;
  /**
   * How the gateway authenticates to the service: the same modes as an MCP upstream. The caller's token is
   * never sent. @default { mode: "none" }
   */
  readonly credentials?: McpCredentials;
  /**
   * Per operation, keyed by operationId (or `METHOD /path` for an operation without one): its tool name,
   * read or write access, or `exclude: true`. @default {} (every operation, named by its operationId,
   * GET and HEAD read, the rest write)
   */
  readonly operations?: Readonly<Record<string, OpenApiOperationOptions>>;
  /** Per-call timeout. @default 60000 */
  readonly timeoutMs?: number;
  /** Largest response body returned to the agent; a larger one is an error result. @default 1048576 */
  readonly maxResponseBytes?: number;
  /** @default true — see LlmRouteProps.requireAuthentication */
  readonly requireAuthentication?: boolean;
}

/** Converts a value that may be known only after apply into its bundle form. */
export type BundleValue = (name: string, value: string) => string;

/** A route built by `GatewayRoute.llm`: it can be routed and guarded, but grants no tools. */
export type LlmRoute = GatewayRoute & { readonly kind: "llm" };
/** A route built by `GatewayRoute.mcp`: an MCP upstream whose tools `McpScopes.grantTools` can grant. */
export type McpRoute = GatewayRoute & { readonly kind: "mcp" };
/** A route built by `GatewayRoute.openapi`: an MCP upstream whose tools are a REST service's operations. */
export type OpenApiRoute = McpRoute & { readonly openApi: OpenApiToolSet };

type RouteProps =
  ({ kind: "llm" } & LlmRouteProps) | ({ kind: "mcp" } & McpRouteProps) | ({ kind: "openapi" } & OpenApiRouteProps);

/**
 * One thing the gateway routes to: an LLM route (path prefix → ordered providers with failover), an
 * MCP upstream, or a REST service described by OpenAPI whose operations become MCP tools. Create with
 * `GatewayRoute.llm(...)`, `GatewayRoute.mcp(...)` or `GatewayRoute.openapi(...)`, apply a `GuardPolicy`,
 * and hand it to `GatewayBundle`.
 */
export class GatewayRoute extends Construct {
  /** Builds an LLM route. */
  public static llm(scope: Construct, id: string, props: LlmRouteProps): LlmRoute {
    return new GatewayRoute(scope, id, { kind: "llm", ...props }) as LlmRoute;
  }

  /** Builds an MCP upstream. */
  public static mcp(scope: Construct, id: string, props: McpRouteProps): McpRoute {
    return new GatewayRoute(scope, id, { kind: "mcp", ...props }) as McpRoute;
  }

  /**
   * Builds an MCP upstream from a REST service's OpenAPI document: each operation becomes a tool named
   * `${upstreamId}__${operationId}` whose arguments are its parameters and JSON body (`body`); the gateway
   * makes the HTTP calls itself, with `credentials`. Grant its tools with `route.openApi.grantAccess(...)` or
   * `McpScopes.grantTools`. Throws, naming each operation and the fix, when an operation cannot be a tool.
   */
  public static openapi(scope: Construct, id: string, props: OpenApiRouteProps): OpenApiRoute {
    return new GatewayRoute(scope, id, { kind: "openapi", ...props }) as OpenApiRoute;
  }

  public readonly kind: "llm" | "mcp";
  /** Route id (LLM) or upstream id (MCP). */
  public readonly routeId: string;
  public readonly upstreamId: string;
  public readonly requireAuthentication: boolean;
  /** Environment variables holding secrets this route needs in the gateway. */
  public readonly secretEnvNames: readonly string[];
  /** `{ file }` secret references in an MCP route's `env`, by variable (GatewayDeployment mounts no secret files and refuses them). */
  public readonly secretFiles: readonly { readonly variable: string; readonly path: string }[];
  /** URLs the gateway calls for this route (providers or the MCP endpoint). */
  public readonly upstreamUrls: readonly string[];
  /** Set by `GuardPolicy.applyTo`. */
  public policy: GuardPolicy | undefined;
  /** The tools of a route built by `GatewayRoute.openapi` (undefined for the others). */
  public readonly openApi: OpenApiToolSet | undefined;
  private readonly props: RouteProps;
  /** The converted operations and base URL of an OpenAPI route. */
  private readonly openApiUpstream: { readonly baseUrl: string; readonly tools: readonly OpenApiTool[] } | undefined;

  private constructor(scope: Construct, id: string, props: RouteProps) {
    super(scope, id);
    this.props = props;
    this.kind = props.kind === "llm" ? "llm" : "mcp";
    this.requireAuthentication = props.requireAuthentication ?? true;
    if (props.kind === "llm") {
      this.routeId = props.routeId ?? id.toLowerCase();
      this.upstreamId = this.routeId;
      this.secretEnvNames = props.providers.flatMap((p) => (p.apiKeyEnv ? [p.apiKeyEnv] : []));
      this.secretFiles = [];
      this.upstreamUrls = props.providers.map((p) => p.baseUrl);
    } else if (props.kind === "openapi") {
      this.routeId = props.upstreamId;
      this.upstreamId = props.upstreamId;
      this.secretEnvNames = credentialSecretEnvs(props.credentials);
      this.secretFiles = [];
      this.openApiUpstream = this.convertOpenApi(props);
      this.upstreamUrls = [this.openApiUpstream.baseUrl];
      this.openApi = new OpenApiToolSet(this as IMcpUpstream, this.openApiUpstream.tools);
    } else {
      this.routeId = props.upstreamId;
      this.upstreamId = props.upstreamId;
      const envSecrets = Object.values(props.env ?? {}).flatMap((v) =>
        typeof v === "object" && "env" in v ? [v.env] : [],
      );
      this.secretEnvNames = [...credentialSecretEnvs(props.credentials), ...envSecrets];
      this.secretFiles = Object.entries(props.env ?? {}).flatMap(([variable, v]) =>
        typeof v === "object" && "file" in v ? [{ variable, path: v.file }] : [],
      );
      this.upstreamUrls = props.url ? [props.url] : [];
    }
    this.checkProps();
    markKind(this, "GatewayRoute");
    TollgateChecks.ensureOn(this);
  }

  /** The path prefix of an LLM route. */
  public get pathPrefix(): string | undefined {
    return this.props.kind === "llm" ? this.props.pathPrefix : undefined;
  }

  /** The bundle entry of an LLM route. */
  public toLlmRoute(policyId: string): LlmRouteInput | undefined {
    const p = this.props;
    if (p.kind !== "llm") return undefined;
    return {
      id: this.routeId,
      pathPrefix: p.pathPrefix,
      policy: policyId,
      providers: p.providers.map((provider): ProviderInput => ({
        id: provider.id,
        kind: provider.kind,
        baseUrl: provider.baseUrl,
        ...(provider.apiKeyEnv ? { apiKey: { env: provider.apiKeyEnv } } : {}),
        ...(provider.modelMap ? { modelMap: { ...provider.modelMap } } : {}),
        ...(provider.timeoutMs ? { timeoutMs: provider.timeoutMs } : {}),
      })),
      failover: {
        on: [...(p.failoverOn ?? ["429", "529", "5xx", "timeout", "connection-error"])],
        evictSeconds: p.evictSeconds ?? 30,
      },
      ...(p.idleTimeoutMs !== undefined ? { idleTimeoutMs: p.idleTimeoutMs } : {}),
    };
  }

  /** The bundle entry of an MCP upstream; apply-time values go through `value`. */
  public toMcpUpstream(value: BundleValue): McpUpstreamInput | undefined {
    const p = this.props;
    if (p.kind === "llm") return undefined;
    let transport: McpUpstreamInput["transport"];
    if (p.kind === "openapi") {
      const upstream = this.openApiUpstream;
      if (!upstream) throw new Error(`${this.node.path}: OpenAPI route without its operations`);
      transport = {
        type: "openapi",
        baseUrl: upstream.baseUrl,
        operations: upstream.tools.map((t) => t.operation),
        ...(p.maxResponseBytes !== undefined ? { maxResponseBytes: p.maxResponseBytes } : {}),
      };
    } else
      transport = p.url
        ? { type: "streamable-http", url: p.url }
        : { type: "stdio", command: p.command ?? "", args: [...(p.args ?? [])], env: { ...(p.env ?? {}) } };
    const c = p.credentials ?? { mode: "none" as const };
    let credentials: McpUpstreamInput["credentials"];
    if (c.mode === "secret-header") {
      credentials = { mode: "secret-header", header: c.header, value: { env: c.secretEnv }, prefix: c.prefix ?? "" };
    } else if (c.mode === "token-exchange") {
      credentials = {
        mode: "token-exchange",
        tokenUrl: value("okta.tokenUrl", c.authServer.tokenUrl),
        clientId: value("okta.clients.agent.id", c.clients.agentClientId),
        ...clientProof(agentClientAuthOf(c.clients)),
        audience: c.audience,
        scopes: [...(c.scopes ?? [])],
      };
    } else if (c.mode === "client-credentials") {
      credentials = {
        mode: "client-credentials",
        tokenUrl: value("okta.tokenUrl", c.authServer.tokenUrl),
        clientId: value("okta.clients.agent.id", c.clients.agentClientId),
        ...clientProof(agentClientAuthOf(c.clients)),
        scopes: [...(c.scopes ?? [])],
        ...(c.audience !== undefined ? { audience: c.audience } : {}),
      };
    } else credentials = { mode: "none" };
    return { id: this.upstreamId, transport, credentials, ...(p.timeoutMs ? { timeoutMs: p.timeoutMs } : {}) };
  }

  /** The document's operations as tools, and the base URL; every problem at once, each naming its fix. */
  private convertOpenApi(props: OpenApiRouteProps): { baseUrl: string; tools: readonly OpenApiTool[] } {
    const where = `${this.node.path}: GatewayRoute.openapi (${props.document.source})`;
    const { tools, problems } = openApiTools(props.document.document, {
      upstreamId: props.upstreamId,
      ...(props.operations ? { operations: props.operations } : {}),
    });
    if (problems.length > 0) throw new Error(`${where}:\n  - ${problems.join("\n  - ")}`);
    const baseUrl = props.baseUrl ?? openApiServerUrl(props.document.document, props.document.documentUrl);
    if (baseUrl === undefined)
      throw new Error(`${where}: the document names no absolute server URL: set GatewayRoute.openapi({ baseUrl })`);
    return { baseUrl, tools };
  }

  /** Refuses impossible props at once, so the error points at the caller's line and construct path. */
  private checkProps(): void {
    const p = this.props;
    if (p.kind === "llm" && p.providers.length === 0)
      throw new Error(`${this.node.path}: GatewayRoute.llm providers: a route needs at least one provider`);
    if (p.kind === "mcp" && Boolean(p.url) === Boolean(p.command))
      throw new Error(
        `${this.node.path}: GatewayRoute.mcp: set exactly one of { url } (streamable HTTP) or { command } (stdio)`,
      );
    if (
      p.kind !== "llm" &&
      p.credentials?.mode === "client-credentials" &&
      agentClientAuthOf(p.credentials.clients).method === "none"
    )
      throw new Error(
        `${this.node.path}: GatewayRoute.${p.kind} credentials: client credentials need the agent app's credential: use OktaApps (private_key_jwt), or give OktaApps.fromClientIds an agentPrivateKeyEnv or agentClientSecretEnv`,
      );
  }
}

/** Environment variables holding the secrets of upstream credentials (the agent app's key or secret, a static header). */
function credentialSecretEnvs(creds: McpCredentials | undefined): string[] {
  if (creds?.mode === "secret-header") return [creds.secretEnv];
  if (creds?.mode !== "token-exchange" && creds?.mode !== "client-credentials") return [];
  const auth = agentClientAuthOf(creds.clients);
  if (auth.method === "private_key_jwt") return [auth.privateKeyEnv];
  return auth.method === "client_secret" ? [auth.secretEnv] : [];
}

/** How the gateway authenticates as the agent app; clients that predate `agentClientAuth` say it with the secret's variable. */
export function agentClientAuthOf(clients: IOAuthClients): AgentClientAuthentication {
  if (clients.agentClientAuth) return clients.agentClientAuth;
  return clients.agentClientSecretEnv
    ? { method: "client_secret", secretEnv: clients.agentClientSecretEnv }
    : { method: "none" };
}

/** The bundle's client authentication fields for the agent app (none: a public client). */
function clientProof(auth: AgentClientAuthentication): {
  clientSecret?: SecretRef;
  privateKeyJwt?: { privateKey: SecretRef };
} {
  if (auth.method === "private_key_jwt") return { privateKeyJwt: { privateKey: { env: auth.privateKeyEnv } } };
  if (auth.method === "client_secret") return { clientSecret: { env: auth.secretEnv } };
  return {};
}

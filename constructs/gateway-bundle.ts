import { Construct } from "constructs";
import { Fn, TerraformStack, Token } from "cdktf";
import {
  API_VERSION,
  type BundleInput,
  formatIssue,
  placeholder,
  validateSynthBundle,
  withDigest,
} from "../policies/bundle/index.js";
import { writeOnSynth } from "./bundle-output.js";
import { TollgateChecks, report } from "./checks.js";
import { markKind } from "./construct-kind.js";
import { DESTRUCTIVE_TOOL_PATTERNS } from "./destructive-tools.js";
import { type McpCatalogSettings, mcpCatalogFields } from "./mcp-catalog.js";
import { isDevEnvironment } from "./environment.js";
import { type GatewaySpendSettings, type SpendBudget, spendProblems, spendSection } from "./spend-budgets.js";
import type { BundleValue, GatewayRoute } from "./gateway-route.js";
import type { GuardPolicy } from "./guard-policy.js";
import type {
  IAgentGateway,
  IAgentIdentity,
  IAuthorizationServer,
  IGatewayEndpoint,
  IOAuthClients,
  IScopeSet,
} from "./refs.js";

/** Port of the gateway's admin listener (/metrics), in the bundle and in the deployment. */
export const METRICS_PORT = 9464;

export interface GatewayAuthSettings {
  /** @default ["RS256"] */
  readonly algorithms?: readonly (
    "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" | "ES256" | "ES384" | "ES512" | "EdDSA"
  )[];
  /** Claims every token must carry besides iss, aud, exp. @default ["sub"] */
  readonly requiredClaims?: readonly string[];
  /** @default 30 */
  readonly clockSkewSeconds?: number;
  /** Refuse tokens older, or valid for longer, than this (by `iat`, which is required). 60 to 2 592 000. @default 86400 */
  readonly maxTokenAgeSeconds?: number;
  /**
   * Whose claim names the issuer uses: `okta` (`scp` array, `cid`) or `rfc9068` (`scope` string, `client_id`,
   * `typ: at+jwt`). Only the profile's claims are read: a token carrying both never gets the union.
   * @default "okta"
   */
  readonly tokenProfile?: "okta" | "rfc9068";
  /** The claim that carries scopes, when it is neither profile's. @default by tokenProfile */
  readonly scopeClaim?: string;
  /** The claims that name the client (agent), first present wins. @default by tokenProfile */
  readonly clientClaims?: readonly string[];
  /** Refuse tokens without the scope claim (ID tokens). @default true */
  readonly requireScopeClaim?: boolean;
  /** Refuse tokens whose `typ` is not `at+jwt` (RFC 9068 §4). @default false for okta, true for rfc9068 */
  readonly requireAccessTokenType?: boolean;
  /** Largest discovery document or key set read from the issuer. 4 KiB to 4 MiB. @default 262144 */
  readonly maxIssuerDocumentBytes?: number;
}

/** Where per-user rate-limit budgets live. */
export type RateLimitStore =
  /** Per replica, in memory. */
  | { readonly type: "memory" }
  /** Shared by every replica. */
  | {
      readonly type: "redis";
      /** Environment variable holding the Redis URL (it may hold a password). @default "REDIS_URL" */
      readonly urlSecretEnv?: string;
      /** When Redis is unreachable. @default "fail-closed" */
      readonly onUnavailable?: "fail-open" | "fail-closed";
    };

/** The operator console on the gateway's admin port: who may sign in, and where it is reached. */
export interface GatewayConsoleSettings {
  /**
   * The OAuth client the console signs in with (authorization code + PKCE), registered with the redirect URI
   * `<url>/callback`. A Terraform reference (an Okta app's client id) is fine: it is filled in at apply.
   */
  readonly clientId: string;
  /** Environment variable holding the client's secret, for a confidential client. @default none: a public client */
  readonly clientSecretEnv?: string;
  /**
   * The admin port's public URL with the path `/console` (e.g. `https://gateway-admin.example.com/console`). HTTPS,
   * or localhost: the session cookie is `Secure`.
   */
  readonly url: string;
  /** The scope an administrator's token must carry. @default "tollgate:admin" */
  readonly adminScope?: string;
  /** Instead of (or besides) the scope: a claim holding group names, and the group that makes an admin. @default none */
  readonly adminGroup?: { readonly claim: string; readonly group: string };
}

export interface GatewayBundleProps {
  /** Environment name (`dev`, `prod`...): bundle provenance and the checks' strictness. */
  readonly environment: string;
  /**
   * Issues the tokens the gateway accepts. Its `audience` is the gateway's public URL: the token audience,
   * the protected resource and the agents' base URL all come from there, so they cannot disagree.
   */
  readonly authServer: IAuthorizationServer;
  /** When given, only these clients' tokens are accepted. @default any client of the authorization server */
  readonly clients?: IOAuthClients;
  /** LLM routes and MCP upstreams. */
  readonly routes: readonly GatewayRoute[];
  /** Scopes and their tool grants. @default no MCP tool visible to anyone */
  readonly scopes?: IScopeSet;
  /** Policy for routes without one (and for MCP when no MCP route has one). */
  readonly defaultPolicy: GuardPolicy;
  /**
   * Token verification settings beyond issuer, audience and clients.
   * @default RS256, claims ["sub"], 30 s clock skew
   */
  readonly auth?: GatewayAuthSettings;
  /** @default "/mcp" */
  readonly mcpPath?: string;
  /** @default { type: "memory" } (per replica) */
  readonly rateLimitStore?: RateLimitStore;
  /** @default tracing off (OTLP export is configured by OTEL_* variables), no prompt capture, metrics on */
  readonly telemetry?: { readonly tracing?: boolean; readonly capturePrompts?: boolean; readonly metrics?: boolean };
  /** Bundle and file name: `<name>.bundle.json`. @default the construct id, lower-cased */
  readonly name?: string;
  /**
   * How long the gateway waits for a client and how many connections it holds (slow clients are cut off).
   * @default headers 10 s, whole request 30 s, keep-alive 65 s (above a load balancer's 60 s), 8192 connections
   */
  readonly clientLimits?: {
    readonly headersTimeoutMs?: number;
    readonly requestTimeoutMs?: number;
    readonly keepAliveTimeoutMs?: number;
    readonly maxConnections?: number;
  };
  /**
   * What the gateway's `/readyz` requires besides the issuer's keys. Every replica probes the listed routes
   * (an HTTP GET on an MCP upstream's URL or on each provider's base URL, no credential; for a stdio upstream,
   * that its command is executable) and answers 503 while one is down, so Kubernetes takes the replica out
   * of the Service until it is back. An LLM route is down when every provider is.
   * @default nothing required: ready once the issuer's keys are fetched
   */
  readonly readiness?: {
    /** Routes of `routes` (LLM routes, MCP upstreams) that must be up. A route not in `routes` fails synth. */
    readonly requiredUpstreams?: readonly GatewayRoute[];
    /** How often each replica probes them, 1 to 300. @default 5 */
    readonly probeIntervalSeconds?: number;
  };
  /**
   * The read-only operator console (bundle, authority matrix, upstreams, recent decisions, limits, explain) on
   * the admin port, for signed-in administrators. Off unless set, in every environment: serving policy data
   * to a browser is an explicit choice.
   * @default false (no console; the admin port answers 404 under /console)
   */
  readonly console?: GatewayConsoleSettings | false;
  /**
   * How the MCP catalog is shown: the upstream's own tool names instead of `<upstream>__<tool>`, progressive
   * discovery for large catalogs, and per-role endpoints (`<mcpPath>/<role>`) that show only a role's tools.
   * None of it widens access: the scopes, deny rules and always-blocked tools decide first, everywhere.
   * @default namespaced names, every allowed tool listed, no role endpoints
   */
  readonly mcpCatalog?: McpCatalogSettings;
  /**
   * Downstream MCP sessions. `maxStdioProcesses` bounds the child processes of stdio upstreams a replica runs
   * for all its sessions together (a session past it gets 503 with Retry-After); size pod memory for it.
   * @default idle 30 minutes, 8 sessions per principal, 256 stdio processes per replica
   */
  readonly mcpSessions?: {
    /** A session unused this long ends, 1 to 1440. @default 30 */
    readonly idleMinutes?: number;
    /** Open sessions per principal; one more closes its least recently used. @default 8 */
    readonly maxPerPrincipal?: number;
    /** Stdio upstream processes per replica; 0 refuses every session of a gateway with a stdio upstream. @default 256 */
    readonly maxStdioProcesses?: number;
  };
  /**
   * Spend: the price table (Tollgate's defaults, your overrides) and budgets that cap what each user, agent or
   * route may spend per window, enforced before each LLM call (429 `spend_budget_exceeded`). Budgets name the
   * `Agent` and `GatewayRoute` constructs; those of agents created after the bundle go through `addSpendBudget`.
   * Shared by replicas with `rateLimitStore: redis`.
   * @default Tollgate's price table, no budget (answers are priced in audit and metrics, nothing is capped)
   */
  readonly spend?: GatewaySpendSettings;
}

type Bundle = BundleInput & { metadata: { digest?: string } };

/**
 * The gateway bundle on its own: gathers the routes, guard policies, scope grants and auth settings into the
 * JSON policy the runtime enforces, validates it at synth and writes it as `<name>.bundle.json` next to the
 * stack's cdk.tf.json. Creates no resource, so a gateway run anywhere (ECS, a VM) can use it;
 * `GatewayDeployment` deploys one on Kubernetes.
 */
export class GatewayBundle extends Construct implements IGatewayEndpoint, IAgentGateway {
  public readonly gatewayName: string;
  public readonly environment: string;
  public readonly publicUrl: string;
  public readonly mcpUrl: string | undefined;
  public readonly llmUrls: Readonly<Record<string, string>>;
  public readonly routes: readonly GatewayRoute[];
  public readonly scopes: IScopeSet | undefined;
  /** Whether rate-limit budgets are shared across replicas (Redis). */
  public readonly sharedLimits: boolean;
  /** The environment variable of the Redis URL, when budgets live in Redis. */
  public readonly redisUrlEnv: string | undefined;
  /** Environment variables the gateway must be given secrets in (provider keys, upstream secrets, Redis URL). */
  public readonly secretEnvNames: readonly string[];
  private readonly props: GatewayBundleProps;
  private readonly agentList: IAgentIdentity[] = [];
  private readonly spendBudgets: SpendBudget[];
  private assembled: { readonly bundle: Bundle; readonly values: Readonly<Record<string, string>> } | undefined;

  constructor(scope: Construct, id: string, props: GatewayBundleProps) {
    super(scope, id);
    this.props = props;
    this.spendBudgets = [...(props.spend?.budgets ?? [])];
    this.gatewayName = props.name ?? id.toLowerCase();
    this.environment = props.environment;
    this.publicUrl = props.authServer.audience;
    this.routes = props.routes;
    this.scopes = props.scopes;
    const mcpPath = props.mcpPath ?? "/mcp";
    this.mcpUrl = props.routes.some((r) => r.kind === "mcp") ? underUrl(this.publicUrl, mcpPath) : undefined;
    this.llmUrls = Object.fromEntries(
      props.routes.flatMap((r) =>
        r.kind === "llm" ? [[r.routeId, underUrl(this.publicUrl, r.pathPrefix ?? "")]] : [],
      ),
    );
    this.redisUrlEnv =
      props.rateLimitStore?.type === "redis" ? (props.rateLimitStore.urlSecretEnv ?? "REDIS_URL") : undefined;
    this.sharedLimits = this.redisUrlEnv !== undefined;
    const consoleSecretEnv = props.console ? props.console.clientSecretEnv : undefined;
    this.secretEnvNames = [
      ...new Set([
        ...props.routes.flatMap((r) => r.secretEnvNames),
        ...(this.redisUrlEnv ? [this.redisUrlEnv] : []),
        ...(consoleSecretEnv ? [consoleSecretEnv] : []),
      ]),
    ].sort();
    this.checkProps();

    writeOnSynth(TerraformStack.of(this), {
      fileName: `${this.gatewayName}.bundle.json`,
      contents: () => this.bundleText(),
    });
    markKind(this, "GatewayBundle");
    TollgateChecks.ensureOn(this);
    this.node.addValidation({ validate: () => this.validateBundle() });
    this.node.addValidation({ validate: () => this.checkReadiness() });
    this.node.addValidation({ validate: () => this.checkSpend() });
  }

  /**
   * The bundle, with placeholders for apply-time values and its digest. Assembled once, on first use: call it
   * after the app has added every grant and policy (synth does).
   */
  public bundle(): Bundle {
    return this.assemble().bundle;
  }

  /**
   * Lists `agent` in the bundle's `agents` (its id, client and scope ceiling) and adds its client to the accepted
   * clients. `Agent` calls this; call it before synth (the bundle is assembled once).
   */
  public addAgent(agent: IAgentIdentity): void {
    if (this.assembled)
      throw new Error(`${this.node.path}: addAgent(${agent.agentId}) after the bundle was assembled: add agents first`);
    if (!this.agentList.includes(agent)) this.agentList.push(agent);
  }

  /**
   * Adds a spend budget beside those of the `spend` prop: for a budget that names an `Agent`, which is created
   * after its gateway. Call it before synth (the bundle is assembled once).
   */
  public addSpendBudget(budget: SpendBudget): void {
    if (this.assembled)
      throw new Error(
        `${this.node.path}: addSpendBudget(${budget.id}) after the bundle was assembled: add budgets first`,
      );
    this.spendBudgets.push(budget);
  }

  /** The spend budgets, from the `spend` prop and `addSpendBudget`, in order. */
  public get budgets(): readonly SpendBudget[] {
    return this.spendBudgets;
  }

  /** The agents added so far, in order. */
  public get agents(): readonly IAgentIdentity[] {
    return this.agentList;
  }

  /** The exact text of `<name>.bundle.json` (and of a deployment's `bundle.json`). */
  public bundleText(): string {
    return `${JSON.stringify(this.bundle(), null, 2)}\n`;
  }

  /** Placeholder name → Terraform expression, for the values file a deployment renders at apply. */
  public applyTimeValues(): Readonly<Record<string, string>> {
    return this.assemble().values;
  }

  /** The values file's text: a Terraform expression when any value is known only at apply. */
  public valuesJson(): string {
    const values = this.applyTimeValues();
    return Object.keys(values).length === 0 ? "{}" : Fn.jsonencode(values);
  }

  private checkProps(): void {
    const mcpPolicies = new Set(this.routes.filter((r) => r.kind === "mcp" && r.policy).map((r) => r.policy?.policyId));
    if (mcpPolicies.size > 1)
      throw new Error(
        `${this.node.path}: GatewayBundle routes: MCP upstreams share one guard policy, got ${[...mcpPolicies].join(", ")}: apply the same GuardPolicy to every MCP route`,
      );
  }

  /** A required route must be one this bundle routes to: it is identified by id in the bundle. */
  private checkReadiness(): string[] {
    return (this.props.readiness?.requiredUpstreams ?? [])
      .filter((route) => !this.routes.includes(route))
      .map(
        (route) =>
          `GatewayBundle "${this.gatewayName}" readiness.requiredUpstreams: route ${route.node.path} ("${route.upstreamId}") is not one of this bundle's routes: add it to routes, or remove it from readiness.requiredUpstreams`,
      );
  }

  private checkSpend(): string[] {
    return spendProblems(this.props.spend, this.spendBudgets, { routes: this.routes, agents: this.agentList }).map(
      (problem) => `GatewayBundle "${this.gatewayName}" ${problem}`,
    );
  }

  private validateBundle(): string[] {
    if (Token.isUnresolved(this.bundleText())) {
      return [
        "GatewayBundle: a Terraform reference reached the bundle outside an apply-time field (pass it through a placeholder)",
      ];
    }
    const result = validateSynthBundle(this.bundle());
    if (!result.ok)
      for (const issue of result.issues)
        report(this, "TG-BUNDLE-001", `gateway "${this.gatewayName}": ${formatIssue(issue)}`);
    return [];
  }

  private assemble(): { readonly bundle: Bundle; readonly values: Readonly<Record<string, string>> } {
    this.assembled ??= this.build();
    return this.assembled;
  }

  private build(): { bundle: Bundle; values: Record<string, string> } {
    const p = this.props;
    const values: Record<string, string> = {};
    const value: BundleValue = (name, raw) => {
      if (!Token.isUnresolved(raw)) return raw;
      values[name] = raw;
      return placeholder(name);
    };
    const revision = process.env.TOLLGATE_SOURCE_REVISION || process.env.GITHUB_SHA || undefined;
    const policies = new Map<string, GuardPolicy>([[p.defaultPolicy.policyId, p.defaultPolicy]]);
    for (const route of p.routes) if (route.policy) policies.set(route.policy.policyId, route.policy);
    const mcpPath = p.mcpPath ?? "/mcp";
    const issuer = value("okta.issuer", p.authServer.issuer);
    const mcpRoutes = p.routes.filter((r) => r.kind === "mcp");
    const mcpPolicy = mcpRoutes.find((r) => r.policy)?.policy ?? p.defaultPolicy;
    const upstreamIds = new Set(mcpRoutes.map((r) => r.upstreamId));
    const blocked = [...policies.values()].flatMap((policy) =>
      policy.alwaysBlocked.map((rule) => ({
        upstream: rule.upstream === undefined || rule.upstream === "*" ? "*" : rule.upstream.upstreamId,
        tools: [...rule.tools],
        reason: rule.reason,
      })),
    );
    const agents = this.agentList.map((agent) => ({
      id: agent.agentId,
      clientId: value(agentClientPlaceholder(agent.agentId), agent.clientId),
      scopes: [...agent.scopes],
    }));
    const spend = spendSection(p.spend, this.spendBudgets);
    const bundle: BundleInput = {
      apiVersion: API_VERSION,
      kind: "GatewayBundle",
      metadata: {
        environment: p.environment,
        stack: TerraformStack.of(this).node.id,
        gateway: this.gatewayName,
        ...(revision ? { sourceRevision: revision } : {}),
      },
      server: {
        publicUrl: value("gateway.publicUrl", this.publicUrl),
        ...(p.clientLimits ? { clients: { ...p.clientLimits } } : {}),
        ...(p.readiness
          ? {
              readiness: definedSettings({
                requiredUpstreams: p.readiness.requiredUpstreams?.map((r) => r.upstreamId),
                probeIntervalSeconds: p.readiness.probeIntervalSeconds,
              }),
            }
          : {}),
        ...(p.console
          ? {
              console: {
                enabled: true,
                clientId: value("console.clientId", p.console.clientId),
                url: value("console.url", p.console.url),
                ...(p.console.clientSecretEnv ? { clientSecret: { env: p.console.clientSecretEnv } } : {}),
                ...definedSettings({ adminScope: p.console.adminScope }),
                ...(p.console.adminGroup ? { adminGroup: { ...p.console.adminGroup } } : {}),
              },
            }
          : {}),
      },
      auth: {
        issuer,
        discoveryUrl: value("okta.discoveryUrl", p.authServer.discoveryUrl),
        jwksUri: value("okta.jwksUri", p.authServer.jwksUri),
        audiences: [value("gateway.audience", p.authServer.audience)],
        ...definedAuthSettings(p.auth),
        ...(p.clients
          ? {
              allowedClients: [
                value("okta.clients.user.id", p.clients.userClientId),
                value("okta.clients.agent.id", p.clients.agentClientId),
                ...agents.map((a) => a.clientId),
              ],
            }
          : {}),
      },
      protectedResource: {
        resource: value("gateway.mcpUrl", underUrl(this.publicUrl, mcpPath)),
        authorizationServers: [issuer],
        scopesSupported: [...(p.scopes?.names ?? [])],
      },
      llm: { routes: p.routes.flatMap((r) => r.toLlmRoute((r.policy ?? p.defaultPolicy).policyId) ?? []) },
      ...(mcpRoutes.length > 0
        ? {
            mcp: {
              path: mcpPath,
              policy: mcpPolicy.policyId,
              upstreams: mcpRoutes.flatMap((r) => r.toMcpUpstream(value) ?? []),
              grants: (p.scopes?.grants ?? []).map((g) => ({
                scope: g.scope,
                upstream: g.upstream.upstreamId,
                tools: [...g.tools],
              })),
              deny: (p.scopes?.denies ?? []).map((d) => ({
                upstream: d.upstream === "*" ? "*" : d.upstream.upstreamId,
                tools: [...d.tools],
                reason: d.reason,
              })),
              alwaysBlocked: [
                ...blocked.filter((b) => b.upstream === "*" || upstreamIds.has(b.upstream)),
                ...destructiveFloor(p.environment, blocked),
              ],
              ...(p.mcpSessions ? { sessions: definedSettings({ ...p.mcpSessions }) } : {}),
              ...mcpCatalogFields(p.mcpCatalog),
            },
          }
        : {}),
      ...(agents.length > 0 ? { agents } : {}),
      ...(spend ? { spend } : {}),
      guardPolicies: [...policies.values()].map((policy) => policy.toBundle()),
      rateLimitStore:
        p.rateLimitStore?.type === "redis"
          ? {
              type: "redis",
              url: { env: this.redisUrlEnv ?? "REDIS_URL" },
              onUnavailable: p.rateLimitStore.onUnavailable ?? "fail-closed",
            }
          : { type: "memory" },
      telemetry: {
        audit: { capturePrompts: p.telemetry?.capturePrompts ?? false },
        metrics: { enabled: p.telemetry?.metrics ?? true, port: METRICS_PORT },
        tracing: { enabled: p.telemetry?.tracing ?? false, serviceName: `tollgate-${this.gatewayName}` },
      },
    };
    return { bundle: withDigest(bundle as BundleInput & { metadata: Record<string, unknown> }), values };
  }
}

/** The apply-time placeholder of an agent's client id (`{{apply:okta.clients.agent-<id>.id}}`). */
function agentClientPlaceholder(agentId: string): string {
  return `okta.clients.agent-${agentId}.id`;
}

/** The settings the app set: the schema supplies every default, so an unset one is left out. */
function definedSettings<T extends Record<string, unknown>>(settings: T): Partial<T> {
  return Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/** The auth settings the app set, in bundle form (the schema supplies every default). */
function definedAuthSettings(auth: GatewayAuthSettings | undefined): Record<string, unknown> {
  if (!auth) return {};
  const { algorithms, requiredClaims, clientClaims, ...scalars } = auth;
  return definedSettings({
    ...scalars,
    algorithms: algorithms && [...algorithms],
    requiredClaims: requiredClaims && [...requiredClaims],
    clientClaims: clientClaims && [...clientClaims],
  });
}

/**
 * Outside dev the destructive patterns are a floor, not a default: whatever the policies list, the
 * patterns none of them blocks for every upstream are added, so an empty `alwaysBlockedTools` plus a
 * wildcard grant cannot open `delete_*`.
 */
function destructiveFloor(
  environment: string,
  blocked: readonly { readonly upstream: string; readonly tools: readonly string[] }[],
): { upstream: "*"; tools: string[]; reason: string }[] {
  if (isDevEnvironment(environment)) return [];
  const everywhere = new Set(blocked.filter((b) => b.upstream === "*").flatMap((b) => b.tools));
  const missing = DESTRUCTIVE_TOOL_PATTERNS.filter((pattern) => !everywhere.has(pattern));
  return missing.length === 0
    ? []
    : [{ upstream: "*", tools: missing, reason: "destructive: always blocked outside dev" }];
}

/** `${url}${path}`; one Terraform expression when the URL is known only at apply (so values.json can carry it). */
function underUrl(url: string, path: string): string {
  return Token.isUnresolved(url) ? Fn.join("", [url, path]) : `${url}${path}`;
}

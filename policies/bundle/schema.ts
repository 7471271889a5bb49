/**
 * The gateway bundle: the one contract between the compile side (constructs/) and the runtime.
 *
 * This zod schema is the single source of truth. The TypeScript type is `z.infer` of it, the JSON Schema
 * in `policies/bundle/bundle.schema.json` is generated from it (`tollgate schema`), and both the
 * constructs (at synth) and the runtime (at load) validate with it.
 *
 * Two modes share one definition:
 * - `synth`: fields marked `applyTime(...)` may hold `{{apply:NAME}}` placeholders (values known only
 *   after `terraform apply`); every other field refuses them.
 * - `runtime`: no placeholder anywhere; the runtime substitutes values first, then validates.
 */
import { z } from "zod";
import { agentsSchema } from "./agents-schema.js";
import { claimHeadersSchema } from "./claim-headers-schema.js";
import { authSchema } from "./auth-schema.js";
import { clientLimitsSchema } from "./client-limits-schema.js";
import { upstreamCredentialsSchema } from "./credentials-schema.js";
import { checkMcpCatalog, mcpCatalogFields } from "./mcp-endpoints-schema.js";
import { checkSpendReferences, spendSchema } from "./spend-schema.js";
import { type BundleMode, SecretRefSchema, TOOL_PATTERN, applyTimeField, id, path, text, url } from "./fields.js";
import { openApiTransportSchema } from "./openapi-schema.js";

export { TOKEN_PROFILES, type TokenProfile } from "./auth-schema.js";
export { TOOL_DISCOVERY, TOOL_NAMING, type ToolDiscovery, type ToolNaming } from "./mcp-endpoints-schema.js";
export {
  type BundleMode,
  LLM_TOOL_NAME,
  SecretRefSchema,
  type SecretRef,
  TOOL_PATTERN,
  UPSTREAM_ID,
} from "./fields.js";

export const API_VERSION = "tollgate.dev/v1alpha1";

function schemaFor(mode: BundleMode) {
  const applyTime = applyTimeField(mode);

  const Metadata = z.strictObject({
    /** Environment name, e.g. `dev`, `prod`. */
    environment: id(),
    /** The cdktf stack that emitted the bundle. */
    stack: text(),
    /** The gateway (construct) name within the stack. */
    gateway: text(),
    /** Source revision (git commit) the bundle was synthesized from, when known. */
    sourceRevision: text().optional(),
    /** `sha256:<hex>` of the canonical JSON of the bundle without this field. */
    digest: text()
      .regex(/^sha256:[0-9a-f]{64}$/, { error: "expected sha256:<64 hex digits>" })
      .optional(),
  });

  const ConsoleUrl = url().refine((value) => URL.canParse(value) && new URL(value).pathname === "/console", {
    error:
      "expected the admin port's public URL with the path /console, e.g. https://gateway-admin.example.com/console",
  });
  const Console = z.discriminatedUnion("enabled", [
    z.strictObject({ enabled: z.literal(false) }),
    z.strictObject({
      enabled: z.literal(true),
      /** The OAuth client the console signs in with (authorization code + PKCE). */
      clientId: applyTime(text()),
      /** A confidential client's secret. Omitted: a public PKCE client. */
      clientSecret: SecretRefSchema.optional(),
      /** The console's external URL on the admin port, ending in `/console`; the redirect URI is `<url>/callback`. */
      url: applyTime(ConsoleUrl),
      /** The scope an administrator's token must carry. */
      adminScope: text().default("tollgate:admin"),
      /** Besides the scope: a claim holding group names, and the group that makes an administrator. */
      adminGroup: z.strictObject({ claim: text(), group: text() }).optional(),
    }),
  ]);

  const Server = z.strictObject({
    /** The gateway's canonical URI: the token audience and the protected resource. */
    publicUrl: applyTime(url()),
    /** Largest request body accepted, in bytes. */
    maxRequestBytes: z
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(4 * 1024 * 1024),
    /** Origins allowed by CORS (browser-based MCP clients). Empty: no CORS. */
    corsOrigins: z.array(text()).default([]),
    /** Client timeouts and the connection cap. */
    clients: clientLimitsSchema(),
    /** What `/readyz` checks besides the issuer's keys. */
    readiness: z
      .strictObject({
        /**
         * Ids of MCP upstreams and LLM routes that must be healthy for the replica to take traffic. An id that
         * names both an upstream and a route requires both. Empty: only the issuer's keys decide.
         */
        requiredUpstreams: z.array(id()).default([]),
        /** How often each replica probes the required upstreams (never the others). */
        probeIntervalSeconds: z.int().min(1).max(300).default(5),
      })
      .default({ requiredUpstreams: [], probeIntervalSeconds: 5 }),
    /** The operator console on the admin port (read-only, for signed-in administrators). Off unless enabled. */
    console: Console.default({ enabled: false }),
  });

  const Auth = authSchema(mode);

  /** RFC 9728 protected resource metadata served at /.well-known/oauth-protected-resource[/<mcp path>]. */
  const ProtectedResource = z.strictObject({
    resource: applyTime(url()),
    authorizationServers: z.array(applyTime(url())).min(1),
    scopesSupported: z.array(text()).default([]),
    resourceName: text().optional(),
    resourceDocumentation: url().optional(),
  });

  const ProviderKind = z.enum(["openai", "anthropic", "openai-compatible"]);
  const Provider = z.strictObject({
    /** Stable id, reported in the `x-tollgate-provider` response header and audit events. */
    id: id(),
    kind: ProviderKind,
    /** API base, e.g. https://api.openai.com/v1 or https://api.anthropic.com. */
    baseUrl: url(),
    /** The provider key. Omit only for keyless local models. */
    apiKey: SecretRefSchema.optional(),
    /** Requested model → this provider's model. Models not listed pass through unchanged. */
    modelMap: z.record(text(), text()).default({}),
    /** Time allowed until response headers arrive. */
    timeoutMs: z.int().min(100).max(600_000).default(30_000),
  });

  const FailoverTrigger = z.enum(["429", "529", "5xx", "timeout", "connection-error"]);
  const LlmRoute = z.strictObject({
    id: id(),
    /** Path prefix, e.g. `/anthropic`; the route serves `${prefix}/v1/...`. */
    pathPrefix: path(),
    /** Tried in order; the first healthy one serves. */
    providers: z.array(Provider).min(1, { error: "a route needs at least one provider" }),
    failover: z
      .strictObject({
        on: z.array(FailoverTrigger).default(["429", "529", "5xx", "timeout", "connection-error"]),
        /** How long a failing provider is skipped (a longer `Retry-After` wins). */
        evictSeconds: z.int().min(1).max(3600).default(30),
      })
      .default({ on: ["429", "529", "5xx", "timeout", "connection-error"], evictSeconds: 30 }),
    /** Guard policy id applied to this route. */
    policy: id(),
    /**
     * Longest silence allowed in a provider's response body (between its headers and the first bytes, and
     * between any two reads) before the answer counts as a `timeout`: failed over while nothing reached the
     * client, an error event on a stream already under way.
     */
    idleTimeoutMs: z.int().min(1000).max(600_000).default(30_000),
    /** Largest upstream response body accepted (non-streaming), in bytes. */
    maxResponseBytes: z
      .int()
      .min(1024)
      .max(256 * 1024 * 1024)
      .default(16 * 1024 * 1024),
  });

  const Transport = z.discriminatedUnion("type", [
    z.strictObject({ type: z.literal("streamable-http"), url: url() }),
    z.strictObject({
      type: z.literal("stdio"),
      command: text(),
      args: z.array(z.string()).default([]),
      /** Environment for the child: literal non-secret values or secret references. */
      env: z.record(text(), z.union([z.string(), SecretRefSchema])).default({}),
      cwd: text().optional(),
    }),
    /** A REST service described by OpenAPI: the gateway serves its operations as tools (see openapi-schema.ts). */
    openApiTransportSchema(),
  ]);

  const UpstreamCredentials = upstreamCredentialsSchema(mode);

  const McpUpstream = z
    .strictObject({
      /** Tools appear as `${id}__${tool}`. */
      id: id(),
      transport: Transport,
      credentials: UpstreamCredentials.default({ mode: "none" }),
      /** Per-call timeout. */
      timeoutMs: z.int().min(100).max(600_000).default(60_000),
      /**
       * Headers sent to this upstream with values from the caller's verified identity (see
       * claim-headers-schema.ts), e.g. `{ "x-tollgate-user": "subject", "x-tollgate-agent": "agent" }`.
       */
      claimHeaders: claimHeadersSchema().optional(),
    })
    .superRefine((upstream, ctx) => {
      if (upstream.transport.type === "stdio" && upstream.claimHeaders && Object.keys(upstream.claimHeaders).length > 0)
        ctx.addIssue({
          code: "custom",
          path: ["claimHeaders"],
          message: "claim headers need an HTTP upstream: a stdio upstream has no request headers",
        });
    });

  const ToolPatterns = z
    .array(text().regex(TOOL_PATTERN, { error: "expected a tool name or a pattern with * wildcards" }))
    .min(1);

  const ToolGrant = z.strictObject({
    /** Holders of this scope... */
    scope: text(),
    /** ...may see and call these tools of this upstream. */
    upstream: id(),
    tools: ToolPatterns,
  });

  const ToolDeny = z.strictObject({
    /** An upstream id, or `*` for every upstream. */
    upstream: z.union([id(), z.literal("*")]),
    tools: ToolPatterns,
    /** Why: shown to callers and in audit events. */
    reason: text(),
  });

  const Mcp = z.strictObject({
    /** Path of the streamable-HTTP endpoint. */
    path: path().default("/mcp"),
    upstreams: z.array(McpUpstream).default([]),
    /** Default deny: a tool is visible only through a grant. */
    grants: z.array(ToolGrant).default([]),
    /** Deny rules win over grants. */
    deny: z.array(ToolDeny).default([]),
    /** Destructive tools: refused for everyone, whatever the scopes. */
    alwaysBlocked: z.array(ToolDeny).default([]),
    /** Guard policy applied to tool arguments and results. */
    policy: id(),
    /** Downstream MCP sessions: how long they live and how much of a replica they may hold. */
    sessions: z
      .strictObject({
        /** A session unused this long ends (its record expires, its upstream clients close). */
        idleMinutes: z.int().min(1).max(1440).default(30),
        /** Open sessions per principal (issuer, subject, client); one more closes the least recently used. */
        maxPerPrincipal: z.int().min(1).max(1000).default(8),
        /** Stdio upstream processes per replica, all sessions together; past it a new session gets 503. */
        maxStdioProcesses: z.int().min(0).max(100_000).default(256),
        /**
         * Resumable streams: what a session wrote on its SSE streams is kept so a client that lost its connection
         * reconnects with `Last-Event-ID` and receives what it missed. `retentionSeconds: 0` turns it off.
         */
        streamEvents: z
          .strictObject({
            /** How long a session's events are kept after its last one. */
            retentionSeconds: z.int().min(0).max(3600).default(300),
            /** Events kept per session (all its streams); the oldest go first. */
            maxPerSession: z.int().min(16).max(100_000).default(1000),
          })
          .default({ retentionSeconds: 300, maxPerSession: 1000 }),
      })
      .default({
        idleMinutes: 30,
        maxPerPrincipal: 8,
        maxStdioProcesses: 256,
        streamEvents: { retentionSeconds: 300, maxPerSession: 1000 },
      }),
    /** Naming and discovery on the main path, and per-role endpoints (./mcp-endpoints-schema.ts). */
    ...mcpCatalogFields(),
  });

  const GuardMode = z.enum(["block", "mask", "log"]);
  const PiiDetector = z.enum(["email", "phone", "ssn", "payment-card", "ip-address"]);
  const GuardPolicy = z.strictObject({
    id: id(),
    pii: z
      .strictObject({
        mode: GuardMode,
        /**
         * Also scan model output (JSON and streams) and apply `mode` to what is found there. In a stream, a
         * trailing word or number that could still become a match is held back until the next chunk shows it.
         * @default false
         */
        responses: z.boolean().optional(),
        detectors: z.array(PiiDetector).default(["email", "phone", "ssn", "payment-card", "ip-address"]),
        /** Extra patterns, compiled once at load. */
        extraPatterns: z
          .array(
            z.strictObject({
              name: id(),
              regex: text(),
              flags: z
                .string()
                .regex(/^[imsu]*$/)
                .default(""),
            }),
          )
          .default([]),
      })
      .optional(),
    promptInjection: z
      .strictObject({
        mode: GuardMode,
        /** How eager detection is. */
        sensitivity: z.enum(["strict", "moderate", "lenient"]).default("moderate"),
      })
      .optional(),
    credentialLeak: z
      .strictObject({
        mode: GuardMode,
        /** Characters held back while streaming so a key split across chunks is still caught. */
        holdBackChars: z.int().min(64).max(4096).default(256),
      })
      .optional(),
    /** Per-principal budgets (keyed by the verified `sub`). */
    limits: z
      .strictObject({
        windowSeconds: z.int().min(1).max(86_400).default(60),
        requestsPerWindow: z.int().positive().optional(),
        tokensPerWindow: z.int().positive().optional(),
      })
      .optional(),
  });

  const RateLimitStore = z.discriminatedUnion("type", [
    z.strictObject({ type: z.literal("memory") }),
    z.strictObject({
      type: z.literal("redis"),
      /** Redis URL (may include a password, so it is a secret reference). */
      url: SecretRefSchema,
      keyPrefix: text().default("tollgate:rl:"),
      /** When Redis is unreachable: `closed` refuses requests (429/503), `open` admits them and logs. */
      onUnavailable: z.enum(["fail-open", "fail-closed"]).default("fail-closed"),
    }),
  ]);

  const Telemetry = z.strictObject({
    audit: z
      .strictObject({
        /** Post-redaction prompt capture in audit events; off unless a policy requires it. */
        capturePrompts: z.boolean().default(false),
      })
      .default({ capturePrompts: false }),
    metrics: z
      .strictObject({
        enabled: z.boolean().default(true),
        /**
         * Admin port for /metrics, separate from traffic; 0 takes any free port. `tollgate serve --metrics-port`
         * and TOLLGATE_METRICS_PORT override it.
         */
        port: z.int().min(0).max(65_535).default(9464),
      })
      .default({ enabled: true, port: 9464 }),
    tracing: z
      .strictObject({
        /** OTLP export is configured by the standard OTEL_* variables. */
        enabled: z.boolean().default(false),
        serviceName: text().default("tollgate-gateway"),
      })
      .default({ enabled: false, serviceName: "tollgate-gateway" }),
  });

  return z
    .strictObject({
      apiVersion: z.literal(API_VERSION, { error: `unknown apiVersion: this runtime reads ${API_VERSION}` }),
      kind: z.literal("GatewayBundle"),
      metadata: Metadata,
      server: Server,
      auth: Auth,
      protectedResource: ProtectedResource,
      llm: z.strictObject({ routes: z.array(LlmRoute).default([]) }).default({ routes: [] }),
      mcp: Mcp.optional(),
      /** The environment's agents, each an identity of its own (see agents-schema.ts). */
      agents: agentsSchema(mode),
      guardPolicies: z.array(GuardPolicy).min(1, { error: "at least one guard policy is required" }),
      rateLimitStore: RateLimitStore.default({ type: "memory" }),
      /** Model prices and spend budgets (see spend-schema.ts). */
      spend: spendSchema(),
      telemetry: Telemetry.default({
        audit: { capturePrompts: false },
        metrics: { enabled: true, port: 9464 },
        tracing: { enabled: false, serviceName: "tollgate-gateway" },
      }),
    })
    .superRefine(checkReferences);
}

type Ctx = z.core.$RefinementCtx<unknown>;
interface RefShape {
  server?: { readiness?: { requiredUpstreams?: string[] } };
  llm?: { routes?: { id: string; pathPrefix: string; policy: string; providers: { id: string }[] }[] };
  mcp?: {
    path?: string;
    policy: string;
    upstreams?: { id: string }[];
    grants?: { upstream: string; scope: string }[];
    deny?: { upstream: string }[];
    alwaysBlocked?: { upstream: string }[];
    toolNames?: string;
    endpoints?: { role: string; tools: { upstream: string }[]; toolNames?: string }[];
  };
  guardPolicies?: { id: string }[];
}

/** Cross-references that one field cannot check alone: ids exist and are unique, paths do not collide. */
function checkReferences(raw: unknown, ctx: Ctx): void {
  const bundle = raw as RefShape;
  const policyIds = new Set((bundle.guardPolicies ?? []).map((p) => p.id));
  const issue = (p: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path: p, message });
  const unique = (ids: string[], at: (i: number) => (string | number)[], what: string) => {
    const seen = new Set<string>();
    ids.forEach((value, i) => {
      if (seen.has(value)) issue(at(i), `duplicate ${what} "${value}"`);
      seen.add(value);
    });
  };
  unique(
    (bundle.guardPolicies ?? []).map((p) => p.id),
    (i) => ["guardPolicies", i, "id"],
    "guard policy id",
  );
  const routes = bundle.llm?.routes ?? [];
  unique(
    routes.map((r) => r.id),
    (i) => ["llm", "routes", i, "id"],
    "route id",
  );
  unique(
    routes.map((r) => r.pathPrefix),
    (i) => ["llm", "routes", i, "pathPrefix"],
    "route path prefix",
  );
  routes.forEach((route, i) => {
    if (!policyIds.has(route.policy)) issue(["llm", "routes", i, "policy"], `unknown guard policy "${route.policy}"`);
    unique(
      route.providers.map((p) => p.id),
      (j) => ["llm", "routes", i, "providers", j, "id"],
      "provider id",
    );
    if (
      bundle.mcp?.path &&
      (route.pathPrefix === bundle.mcp.path || route.pathPrefix.startsWith(`${bundle.mcp.path}/`))
    ) {
      issue(["llm", "routes", i, "pathPrefix"], `collides with the MCP path "${bundle.mcp.path}"`);
    }
  });
  checkRequiredUpstreams(bundle, issue);
  checkSpendReferences(raw, issue);
  const mcp = bundle.mcp;
  if (!mcp) return;
  if (!policyIds.has(mcp.policy)) issue(["mcp", "policy"], `unknown guard policy "${mcp.policy}"`);
  const upstreamIds = new Set((mcp.upstreams ?? []).map((u) => u.id));
  unique(
    (mcp.upstreams ?? []).map((u) => u.id),
    (i) => ["mcp", "upstreams", i, "id"],
    "upstream id",
  );
  (mcp.grants ?? []).forEach((g, i) => {
    if (!upstreamIds.has(g.upstream)) issue(["mcp", "grants", i, "upstream"], `unknown upstream "${g.upstream}"`);
  });
  for (const key of ["deny", "alwaysBlocked"] as const) {
    (mcp[key] ?? []).forEach((rule, i) => {
      if (rule.upstream !== "*" && !upstreamIds.has(rule.upstream))
        issue(["mcp", key, i, "upstream"], `unknown upstream "${rule.upstream}"`);
    });
  }
  checkMcpCatalog(mcp, issue);
}

/** Every id `server.readiness.requiredUpstreams` lists names an MCP upstream or an LLM route, once. */
function checkRequiredUpstreams(bundle: RefShape, issue: (p: (string | number)[], message: string) => void): void {
  const known = [...(bundle.mcp?.upstreams ?? []).map((u) => u.id), ...(bundle.llm?.routes ?? []).map((r) => r.id)];
  const seen = new Set<string>();
  (bundle.server?.readiness?.requiredUpstreams ?? []).forEach((required, i) => {
    const at = ["server", "readiness", "requiredUpstreams", i];
    if (seen.has(required)) issue(at, `"${required}" is listed twice`);
    seen.add(required);
    if (!known.includes(required))
      issue(
        at,
        `unknown upstream "${required}": expected an MCP upstream id or an LLM route id${known.length > 0 ? ` (${[...new Set(known)].join(", ")})` : ", and the bundle has none"}`,
      );
  });
}

/** Validates a bundle at synth time: placeholders allowed in apply-time fields. */
export const SynthBundleSchema = schemaFor("synth");
/** Validates a bundle at load time: every value real. */
export const RuntimeBundleSchema = schemaFor("runtime");

/** A fully resolved, validated bundle as the runtime uses it. */
export type Bundle = z.output<typeof RuntimeBundleSchema>;
/** What a bundle author writes (defaults may be omitted). */
export type BundleInput = z.input<typeof SynthBundleSchema>;

export type LlmRoute = Bundle["llm"]["routes"][number];
export type LlmProvider = LlmRoute["providers"][number];
export type McpConfig = NonNullable<Bundle["mcp"]>;
export type McpUpstream = McpConfig["upstreams"][number];
export type UpstreamCredentials = McpUpstream["credentials"];
export type OpenApiTransport = Extract<McpUpstream["transport"], { type: "openapi" }>;
export type OpenApiOperation = OpenApiTransport["operations"][number];
export type ToolGrant = McpConfig["grants"][number];
export type ToolDeny = McpConfig["deny"][number];
export type GuardPolicy = Bundle["guardPolicies"][number];
export type GuardMode = NonNullable<GuardPolicy["pii"]>["mode"];
export type AuthConfig = Bundle["auth"];
export type RateLimitStore = Bundle["rateLimitStore"];
export type Telemetry = Bundle["telemetry"];
export type Readiness = Bundle["server"]["readiness"];
export type McpSessionSettings = McpConfig["sessions"];
export type McpEndpoint = McpConfig["endpoints"][number];
export type AgentConfig = Bundle["agents"][number];
export type SpendConfig = Bundle["spend"];
export type SpendBudgetConfig = SpendConfig["budgets"][number];

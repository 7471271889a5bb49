/**
 * A local overlay points a synthesized bundle at local stand-ins (an authorization server, MCP servers,
 * LLM upstreams) without editing the bundle. It supplies apply-time values and may replace the
 * transport of named MCP upstreams, the base URL of named OpenAPI upstreams, the base URL and key of named
 * LLM providers, the gateway's
 * canonical URI (for a gateway reached at a local address), the admin (/metrics) port and the operator
 * console on it (for a local sign-in client); nothing else.
 */
import { z } from "zod";
import { SecretRefSchema } from "./schema.js";

const Transport = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("streamable-http"), url: z.string().min(1) }),
  z.strictObject({
    type: z.literal("stdio"),
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    env: z.record(z.string(), z.union([z.string(), SecretRefSchema])).default({}),
    cwd: z.string().optional(),
  }),
]);

const METRICS_PORT = 'expected a port (0-65535, 0: any free port) or "off"';

export const OverlaySchema = z.strictObject({
  /** Values for `{{apply:NAME}}` placeholders. */
  values: z.record(z.string(), z.string()).default({}),
  /**
   * The gateway's canonical URI where this gateway really answers (e.g. `http://127.0.0.1:8080`). Replaces
   * `server.publicUrl`, the same prefix of `protectedResource.resource`, and the audience equal to the old
   * URI, so tokens, protected-resource metadata and the address clients use agree. Policy is untouched.
   */
  publicUrl: z.string().min(1).optional(),
  /**
   * The admin (/metrics) port on this host: a port, 0 for any free port, or `"off"` for no admin server.
   * `tollgate serve --metrics-port` and TOLLGATE_METRICS_PORT still win over it.
   */
  metricsPort: z
    .union([
      z.int({ error: METRICS_PORT }).min(0, { error: METRICS_PORT }).max(65_535, { error: METRICS_PORT }),
      z.literal("off", { error: METRICS_PORT }),
    ])
    .optional(),
  /**
   * Turns the operator console on for this host, signed in through `clientId` (a public PKCE client of the
   * issuer) at `url` (the admin port's address + `/console`).
   */
  console: z
    .strictObject({
      clientId: z.string().min(1),
      url: z.string().min(1),
      adminScope: z.string().min(1).optional(),
    })
    .optional(),
  /** Upstream id → replacement transport (credentials become `none`). */
  mcpUpstreams: z.record(z.string(), Transport).default({}),
  /** OpenAPI upstream id → the base URL of a stand-in for its REST service (credentials become `none`). */
  openApiUpstreams: z.record(z.string(), z.strictObject({ baseUrl: z.string().min(1) })).default({}),
  /** `routeId/providerId` → replacement base URL and key. */
  llmProviders: z
    .record(
      z.string().regex(/^[a-z][a-z0-9-]*\/[a-z][a-z0-9-]*$/),
      z.strictObject({ baseUrl: z.string().min(1), apiKey: SecretRefSchema.optional() }),
    )
    .default({}),
});
export type Overlay = z.output<typeof OverlaySchema>;

interface OverlayTarget {
  server?: { publicUrl?: string; console?: unknown };
  protectedResource?: { resource?: string };
  auth?: { audiences?: string[] };
  telemetry?: { metrics?: { enabled?: boolean; port?: number } };
  mcp?: { upstreams?: { id: string; transport: { type?: unknown; baseUrl?: unknown }; credentials?: unknown }[] };
  llm?: { routes?: { id: string; providers: { id: string; baseUrl: string; apiKey?: unknown }[] }[] };
}

/** Applies the transport and provider replacements (values are substituted separately). Returns the names it could not find. */
export function applyOverlay<T extends OverlayTarget>(bundle: T, overlay: Overlay): { bundle: T; unknown: string[] } {
  const copy = structuredClone(bundle);
  const unknown: string[] = [];
  const previous = copy.server?.publicUrl;
  if (overlay.publicUrl !== undefined && copy.server && previous !== undefined) {
    const next = overlay.publicUrl.replace(/\/+$/, "");
    const old = previous.replace(/\/+$/, "");
    copy.server.publicUrl = next;
    const resource = copy.protectedResource?.resource;
    if (copy.protectedResource && resource !== undefined && (resource === old || resource.startsWith(`${old}/`))) {
      copy.protectedResource.resource = `${next}${resource.slice(old.length)}`;
    }
    if (copy.auth?.audiences)
      copy.auth.audiences = copy.auth.audiences.map((a) => (a.replace(/\/+$/, "") === old ? next : a));
  }
  if (overlay.metricsPort !== undefined) {
    const metrics = { ...copy.telemetry?.metrics };
    if (overlay.metricsPort === "off") metrics.enabled = false;
    else metrics.port = overlay.metricsPort;
    copy.telemetry = { ...copy.telemetry, metrics };
  }
  if (overlay.console && copy.server) copy.server.console = { enabled: true, ...overlay.console };
  for (const [upstreamId, transport] of Object.entries(overlay.mcpUpstreams)) {
    const upstream = copy.mcp?.upstreams?.find((u) => u.id === upstreamId);
    if (!upstream) {
      unknown.push(`mcpUpstreams.${upstreamId}`);
      continue;
    }
    upstream.transport = transport;
    upstream.credentials = { mode: "none" };
  }
  for (const [upstreamId, { baseUrl }] of Object.entries(overlay.openApiUpstreams)) {
    const upstream = copy.mcp?.upstreams?.find((u) => u.id === upstreamId && u.transport.type === "openapi");
    if (!upstream) {
      unknown.push(`openApiUpstreams.${upstreamId}`);
      continue;
    }
    upstream.transport = { ...upstream.transport, baseUrl };
    upstream.credentials = { mode: "none" };
  }
  for (const [key, replacement] of Object.entries(overlay.llmProviders)) {
    const [routeId, providerId] = key.split("/") as [string, string];
    const provider = copy.llm?.routes?.find((r) => r.id === routeId)?.providers.find((p) => p.id === providerId);
    if (!provider) {
      unknown.push(`llmProviders.${key}`);
      continue;
    }
    provider.baseUrl = replacement.baseUrl;
    if (replacement.apiKey) provider.apiKey = replacement.apiKey;
    else delete provider.apiKey;
  }
  return { bundle: copy, unknown };
}

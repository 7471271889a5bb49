/**
 * A local overlay points a synthesized bundle at local stand-ins (an authorization server, MCP servers,
 * LLM upstreams) without editing the bundle. It supplies apply-time values and may replace the
 * transport of named MCP upstreams and the base URL and key of named LLM providers; nothing else.
 */
import { z } from "zod";
import { SecretRefSchema } from "./schema";

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

export const OverlaySchema = z.strictObject({
  /** Values for `{{apply:NAME}}` placeholders. */
  values: z.record(z.string(), z.string()).default({}),
  /** Upstream id → replacement transport (credentials become `none`). */
  mcpUpstreams: z.record(z.string(), Transport).default({}),
  /** `routeId/providerId` → replacement base URL and key. */
  llmProviders: z
    .record(z.string().regex(/^[a-z][a-z0-9-]*\/[a-z][a-z0-9-]*$/), z.strictObject({ baseUrl: z.string().min(1), apiKey: SecretRefSchema.optional() }))
    .default({}),
});
export type Overlay = z.output<typeof OverlaySchema>;

interface OverlayTarget {
  mcp?: { upstreams?: { id: string; transport: unknown; credentials?: unknown }[] };
  llm?: { routes?: { id: string; providers: { id: string; baseUrl: string; apiKey?: unknown }[] }[] };
}

/** Applies the transport and provider replacements (values are substituted separately). Returns the names it could not find. */
export function applyOverlay<T extends OverlayTarget>(bundle: T, overlay: Overlay): { bundle: T; unknown: string[] } {
  const copy = structuredClone(bundle);
  const unknown: string[] = [];
  for (const [upstreamId, transport] of Object.entries(overlay.mcpUpstreams)) {
    const upstream = copy.mcp?.upstreams?.find((u) => u.id === upstreamId);
    if (!upstream) {
      unknown.push(`mcpUpstreams.${upstreamId}`);
      continue;
    }
    upstream.transport = transport;
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

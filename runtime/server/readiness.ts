/**
 * Readiness of the upstreams the bundle's `server.readiness.requiredUpstreams` names: each replica probes
 * them itself, in the background, every `probeIntervalSeconds`; `/readyz` reads the latest answers.
 *
 * A probe and not the health sessions report, because a replica with no MCP session (a fresh pod, the one
 * the load balancer has not sent anyone to yet) has no session signal at all, and that is exactly when
 * readiness is asked. A probe is light and carries no credential:
 * - MCP over streamable HTTP, and every provider of an LLM route: one GET on the URL. Any HTTP answer below
 *   500 (401, 404, 405 included) means the server is there; a 5xx, a refused connection or a timeout is down.
 * - MCP over stdio: the command is found and executable. The process itself runs per session, so spawning
 *   one per probe would cost what it checks.
 * An LLM route is down when every one of its providers is (failover still has somewhere to go otherwise).
 */
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { delimiter, isAbsolute, join, resolve } from "node:path";
import type { Bundle, McpUpstream } from "../../policies/bundle/index.js";

/** How long one probe may take before the upstream counts as down. */
export const PROBE_TIMEOUT_MS = 2000;

export type UpstreamState = "up" | "down" | "unknown";

/** What `/readyz` shows for one required upstream: no URL, no command line, no secret. */
export interface RequiredUpstreamStatus {
  readonly id: string;
  readonly kind: "mcp" | "llm";
  readonly state: UpstreamState;
  /** Why it is not up. */
  readonly detail?: string;
}

/** One probe's answer: up, or down and why. */
export type ProbeResult = { readonly up: true } | { readonly up: false; readonly detail: string };

export interface UpstreamReadiness {
  /** The required upstreams and their latest state; waits for the first round of probes. */
  states(): Promise<readonly RequiredUpstreamStatus[]>;
  /** Stops probing. */
  close(): void;
}

export interface ReadinessOptions {
  /** Called when a required upstream changes state (operators see why a replica left the Service). */
  readonly log?: (line: string) => void;
}

interface Target {
  readonly id: string;
  readonly kind: "mcp" | "llm";
  readonly probe: () => Promise<ProbeResult>;
}

/** Probes nothing and reports nothing when the bundle requires no upstream. */
export function createUpstreamReadiness(bundle: Bundle, options: ReadinessOptions = {}): UpstreamReadiness {
  const { requiredUpstreams, probeIntervalSeconds } = bundle.server.readiness;
  const targets = requiredTargets(bundle, requiredUpstreams);
  if (targets.length === 0) return { states: async () => [], close: () => undefined };

  const latest = new Map<Target, RequiredUpstreamStatus>(
    targets.map((t) => [t, { id: t.id, kind: t.kind, state: "unknown", detail: "not probed yet" }]),
  );
  let round: Promise<void> | undefined;
  const probeAll = (): Promise<void> =>
    (round ??= Promise.all(
      targets.map(async (target) => {
        const result = await target.probe().catch((): ProbeResult => ({ up: false, detail: "probe failed" }));
        const next: RequiredUpstreamStatus = result.up
          ? { id: target.id, kind: target.kind, state: "up" }
          : { id: target.id, kind: target.kind, state: "down", detail: result.detail };
        const previous = latest.get(target);
        if (previous?.state !== next.state && !(previous?.state === "unknown" && next.state === "up"))
          options.log?.(
            `tollgate: required ${target.kind} upstream "${target.id}" is ${next.state}${next.detail ? ` (${next.detail})` : ""}`,
          );
        latest.set(target, next);
      }),
    ).then(
      () => void (round = undefined),
      () => void (round = undefined),
    ));
  const first = probeAll();
  const timer = setInterval(() => void probeAll(), probeIntervalSeconds * 1000);
  timer.unref();
  return {
    async states() {
      await first;
      return targets.map((t) => latest.get(t) as RequiredUpstreamStatus);
    },
    close: () => clearInterval(timer),
  };
}

/** Why a replica is not ready (empty: ready): the issuer's keys, then each required upstream not up. */
export function notReadyReasons(keysLoaded: boolean, upstreams: readonly RequiredUpstreamStatus[]): string[] {
  return [
    ...(keysLoaded ? [] : ["issuer keys not fetched"]),
    ...upstreams.flatMap((u) => (u.state === "up" ? [] : [`${u.kind} upstream "${u.id}" ${u.state}: ${u.detail}`])),
  ];
}

function requiredTargets(bundle: Bundle, required: readonly string[]): Target[] {
  const wanted = new Set(required);
  const mcp: Target[] = (bundle.mcp?.upstreams ?? [])
    .filter((u) => wanted.has(u.id))
    .map((upstream) => ({ id: upstream.id, kind: "mcp", probe: mcpProbe(upstream) }));
  const llm: Target[] = bundle.llm.routes
    .filter((r) => wanted.has(r.id))
    .map((route) => ({
      id: route.id,
      kind: "llm",
      probe: async (): Promise<ProbeResult> => {
        const results = await Promise.all(route.providers.map((p) => probeUrl(p.baseUrl)));
        if (results.some((r) => r.up)) return { up: true };
        const details = results.map((r, i) => `${route.providers[i]?.id}: ${r.up ? "up" : r.detail}`);
        return { up: false, detail: `every provider failing (${details.join("; ")})` };
      },
    }));
  return [...mcp, ...llm];
}

function mcpProbe(upstream: McpUpstream): () => Promise<ProbeResult> {
  const transport = upstream.transport;
  if (transport.type === "stdio") return () => probeCommand(transport.command, transport.cwd);
  // An OpenAPI upstream is up when its REST service answers at its base URL.
  return () => probeUrl(transport.type === "openapi" ? transport.baseUrl : transport.url);
}

/** One GET without credentials; redirects are not followed (a redirect is an answer). */
export async function probeUrl(url: string): Promise<ProbeResult> {
  let response: Response;
  try {
    response = await fetch(url, { method: "GET", redirect: "manual", signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
  } catch (error) {
    return { up: false, detail: connectionFailure(error) };
  }
  // The body is not needed (an MCP server may even start an event stream): let the connection go.
  await response.body?.cancel().catch(() => undefined);
  return response.status < 500 ? { up: true } : { up: false, detail: `answered HTTP ${response.status}` };
}

/** Why a connection failed, by error code only: an error message may carry the address. */
function connectionFailure(error: unknown): string {
  const name = (error as Error)?.name;
  if (name === "TimeoutError" || name === "AbortError") return `no answer within ${PROBE_TIMEOUT_MS} ms`;
  const code = ((error as { cause?: { code?: unknown } })?.cause?.code ?? "") as string;
  return typeof code === "string" && /^[A-Z_]+$/.test(code) ? `connection failed (${code})` : "connection failed";
}

/** The stdio command resolves to an executable file (on PATH when it has no slash). */
export async function probeCommand(command: string, cwd: string | undefined): Promise<ProbeResult> {
  // The MCP client runs the gateway's own Node for `node` (./../mcp/upstream.ts does the same).
  if (command === "node") return { up: true };
  const candidates = command.includes("/")
    ? [isAbsolute(command) ? command : resolve(cwd ?? process.cwd(), command)]
    : (process.env.PATH ?? "")
        .split(delimiter)
        .filter((dir) => dir.length > 0)
        .map((dir) => join(dir, command));
  for (const candidate of candidates) {
    if (
      await access(candidate, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return { up: true };
  }
  return { up: false, detail: "stdio command not found or not executable" };
}

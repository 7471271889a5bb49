/**
 * Names the gateway shows downstream: every tool and prompt is `{upstreamId}__{name}`, every resource URI
 * is wrapped in a `tollgate:` URI naming its upstream. Tool and prompt names must satisfy LLM tool-name
 * rules (`^[a-zA-Z0-9_-]{1,64}$`); a name that would not (too long, or with other characters such as `.`)
 * is shortened to a readable prefix plus a hash of the original, and the {@link NameTable} maps it back.
 * Pure: hashing is computation, not I/O.
 */
import { createHash } from "node:crypto";
import { LLM_TOOL_NAME } from "../bundle/index.js";

/** Separator between the upstream id and the upstream's own name. Upstream ids cannot contain it. */
export const NAMESPACE_SEPARATOR = "__";
const MAX_NAME = 64;
const HASH_CHARS = 8;

/** `memory` + `read_graph` → `memory__read_graph`; `docs` + `search.v2` → `docs__search_v2_1a2b3c4d`. */
export function namespacedName(upstreamId: string, name: string): string {
  const plain = `${upstreamId}${NAMESPACE_SEPARATOR}${name}`;
  if (LLM_TOOL_NAME.test(plain)) return plain;
  const hash = createHash("sha256").update(name).digest("hex").slice(0, HASH_CHARS);
  const room = MAX_NAME - upstreamId.length - NAMESPACE_SEPARATOR.length - 1 - HASH_CHARS;
  const readable = name.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, Math.max(0, room));
  return `${upstreamId}${NAMESPACE_SEPARATOR}${readable}_${hash}`;
}

/**
 * Splits a plain namespaced name (`memory__read_graph` → memory, read_graph). For shortened names the
 * result is the shortened text, not the original: resolve those through a {@link NameTable}.
 */
export function splitNamespacedName(name: string): { upstreamId: string; name: string } | undefined {
  const at = name.indexOf(NAMESPACE_SEPARATOR);
  if (at <= 0) return undefined;
  return { upstreamId: name.slice(0, at), name: name.slice(at + NAMESPACE_SEPARATOR.length) };
}

const RESOURCE_SCHEME = "tollgate:";

/** `memory` + `file:///a b` → `tollgate://memory/file%3A%2F%2F%2Fa%20b`. */
export function namespacedUri(upstreamId: string, uri: string): string {
  return `${RESOURCE_SCHEME}//${upstreamId}/${encodeURIComponent(uri)}`;
}

/** The inverse of {@link namespacedUri}; undefined for any other URI. */
export function splitNamespacedUri(uri: string): { upstreamId: string; uri: string } | undefined {
  const match = /^tollgate:\/\/([a-z][a-z0-9-]{0,15})\/(.*)$/s.exec(uri);
  if (!match?.[1] || match[2] === undefined) return undefined;
  try {
    return { upstreamId: match[1], uri: decodeURIComponent(match[2]) };
  } catch {
    return undefined;
  }
}

/** One upstream item as the gateway shows it. */
export interface NamedItem {
  readonly upstreamId: string;
  /** The upstream's own name. */
  readonly name: string;
  /** The name shown downstream. */
  readonly exposed: string;
}

/**
 * Downstream name → upstream item, built from what the upstreams listed. Order is stable: upstreams in the
 * order given (bundle order), names sorted within each upstream. If two names would expose the same text
 * (only possible for shortened names), the later one gets a longer hash suffix.
 */
export class NameTable {
  private readonly byExposed = new Map<string, NamedItem>();
  public readonly items: readonly NamedItem[];

  /**
   * @param naming `upstream`: every item keeps the upstream's own name (the caller guarantees the names cannot
   *   collide: one upstream only, which the bundle schema enforces).
   */
  constructor(
    entries: Iterable<{ upstreamId: string; names: readonly string[] }>,
    naming: "namespaced" | "upstream" = "namespaced",
  ) {
    const items: NamedItem[] = [];
    for (const { upstreamId, names } of entries) {
      for (const name of [...new Set(names)].sort()) {
        let exposed = naming === "upstream" ? name : namespacedName(upstreamId, name);
        if (this.byExposed.has(exposed)) exposed = disambiguate(upstreamId, name, this.byExposed);
        const item = { upstreamId, name, exposed };
        this.byExposed.set(exposed, item);
        items.push(item);
      }
    }
    this.items = items;
  }

  /** The upstream item behind a downstream name, or undefined when no upstream offers it. */
  resolve(exposed: string): NamedItem | undefined {
    return this.byExposed.get(exposed);
  }
}

function disambiguate(upstreamId: string, name: string, taken: ReadonlyMap<string, NamedItem>): string {
  const hash = createHash("sha256").update(`${upstreamId}\0${name}`).digest("hex");
  for (let len = 12; len <= 40; len += 4) {
    const candidate = `${upstreamId}${NAMESPACE_SEPARATOR}${hash.slice(0, len)}`;
    if (!taken.has(candidate)) return candidate;
  }
  throw new Error(`cannot name ${upstreamId}/${name} uniquely`);
}

/**
 * The loose JSON the request path reads and rewrites: chat and Messages bodies, provider answers, stream
 * chunks. Provider wire formats vary by vendor and version, so fields are checked where they are used
 * rather than described once by a schema.
 */

/** A JSON object whose members are read and checked where they are used. */
export type Json = Record<string, any>;

/** `text` parsed when it is a JSON object or array, else undefined (never throws). */
export function parseJsonObject(text: string): Json | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === "object" ? (value as Json) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Deepest nesting of objects and arrays the gateway accepts in a request. Real chat bodies, tool schemas
 * and tool arguments stay far below it; far deeper input overflows the stack of the code that walks or
 * re-serialises it, so it is refused as the client's error before anything is counted or forwarded.
 */
export const MAX_JSON_DEPTH = 128;

/** True when `value` nests objects or arrays deeper than `maxDepth` (iterative: any depth is safe to ask). */
export function nestsDeeperThan(value: unknown, maxDepth: number = MAX_JSON_DEPTH): boolean {
  if (value === null || typeof value !== "object") return false;
  const stack: [object, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [object, number];
    if (depth > maxDepth) return true;
    const children = Array.isArray(node) ? node : Object.values(node);
    for (const child of children)
      if (child !== null && typeof child === "object") stack.push([child as object, depth + 1]);
  }
  return false;
}

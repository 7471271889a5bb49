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

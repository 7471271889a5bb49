/**
 * Checks on the raw compact JWS before any cryptography: size cap and duplicate members.
 *
 * jose (like JSON.parse) keeps the last of duplicate members, so `{"sub":"alice","sub":"bob"}` would be
 * read as bob while another component in the chain may read alice. Such tokens are refused outright.
 */

export type RawTokenProblem = "too-large" | "malformed" | "duplicate-member";

/** Size and shape of the compact serialization, then duplicate members in the header and payload. */
export function checkRawToken(token: string, maxBytes: number): RawTokenProblem | undefined {
  // Length first: nothing is decoded from a token over the cap. (Base64url is ASCII, so length = bytes.)
  if (token.length > maxBytes) return "too-large";
  const parts = token.split(".");
  if (parts.length !== 3 || parts.some((p, i) => i < 2 && p.length === 0)) return "malformed";
  for (const part of parts.slice(0, 2)) {
    if (!/^[A-Za-z0-9_-]+$/.test(part as string)) return "malformed";
    const json = Buffer.from(part as string, "base64url").toString("utf8");
    const result = findDuplicateMember(json);
    if (result === "invalid") return "malformed";
    if (result) return "duplicate-member";
  }
  return undefined;
}

/**
 * Scans JSON text for an object with the same member name twice (at any depth, escapes decoded, so
 * `"\u0073ub"` counts as `sub`). Returns the duplicated name, `undefined` when there is none, or
 * `"invalid"` when the text is not JSON.
 */
export function findDuplicateMember(json: string): string | "invalid" | undefined {
  try {
    JSON.parse(json);
  } catch {
    return "invalid";
  }
  // The text is valid JSON from here on, so a small scanner suffices.
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === "{") {
      stack.push(new Set());
      expectKey = true;
    } else if (c === "[") {
      stack.push(null);
      expectKey = false;
    } else if (c === "}" || c === "]") {
      stack.pop();
      expectKey = false;
    } else if (c === ",") {
      expectKey = stack[stack.length - 1] != null;
    } else if (c === '"') {
      let end = i + 1;
      while (json[end] !== '"') end += json[end] === "\\" ? 2 : 1;
      if (expectKey) {
        const name = JSON.parse(json.slice(i, end + 1)) as string;
        const members = stack[stack.length - 1];
        if (members?.has(name)) return name;
        members?.add(name);
        expectKey = false;
      }
      i = end;
    }
  }
  return undefined;
}

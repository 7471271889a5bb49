/**
 * `tollgate explain --bundle <file> [--values <file>] [--overlay <file>] --claims <claims.json> --tool <upstream__tool> [--json]`
 *
 * Says whether a caller with these token claims may see and call the tool, and which rule decided,
 * using the same `policies/tools` decision the gateway runs on every `tools/list` and `tools/call`.
 * Exit code: 0 allowed, 1 denied, 2 usage or input error.
 */
import { readFile } from "node:fs/promises";
import {
  type Bundle,
  type BundleIssue,
  formatIssue,
  parseJson,
  validateRuntimeBundle,
  validateSynthBundle,
} from "../../policies/bundle/index.js";
import { compileToolPolicy, decideTool, splitNamespacedName } from "../../policies/tools/index.js";
import { parseScopes } from "../auth/verifier.js";
import { parseCommandArgs } from "./args.js";

const USAGE =
  "usage: tollgate explain --bundle <bundle.json> [--values values.json] [--overlay overlay.json] --claims <claims.json> --tool <upstream__tool> [--json]";

/** What explain concluded; also its `--json` output. */
export interface Explanation {
  readonly tool: string;
  readonly upstream: string;
  readonly upstreamTool: string;
  readonly allowed: boolean;
  /** The deciding rule: `grant: <scope>` when allowed, else the denial rule (`always-blocked: …`, `deny: …`, `scope: … required`, `no grant`, `client not allowed`). */
  readonly rule: string;
  /** Every scope that would allow the tool, when a scope would. */
  readonly requiredScopes: readonly string[];
  readonly principal: {
    readonly subject: string | undefined;
    readonly client: string | undefined;
    readonly scopes: readonly string[];
  };
}

async function readJson(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new Error(
      `${what} ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
  const parsed = parseJson(text);
  if (!parsed.ok) throw new Error(`${what} ${file}: ${parsed.issues[0]?.message}`);
  return parsed.bundle;
}

/**
 * Validates for explaining: load-time rules when they pass (values applied); otherwise the reviewed
 * bundle under synth rules, since tool rules never hold apply-time values.
 */
function validateForExplain(
  input: unknown,
  values: Record<string, string> | undefined,
  overlay: unknown,
): { ok: true; bundle: Pick<Bundle, "mcp" | "auth"> } | { ok: false; issues: readonly BundleIssue[] } {
  const runtime = validateRuntimeBundle(input, {
    ...(values ? { values } : {}),
    ...(overlay !== undefined ? { overlay } : {}),
  });
  if (runtime.ok) return runtime;
  const synth = validateSynthBundle(input);
  if (synth.ok) return { ok: true, bundle: synth.bundle as unknown as Pick<Bundle, "mcp" | "auth"> };
  return { ok: false, issues: runtime.issues };
}

/** The decision for one tool and one set of claims. Pure apart from reading nothing: exported for tests. */
export function explainTool(
  bundle: Pick<Bundle, "mcp" | "auth">,
  claims: Record<string, unknown>,
  tool: string,
): Explanation | { error: string } {
  const split = splitNamespacedName(tool);
  const upstreamIds = (bundle.mcp?.upstreams ?? []).map((u) => u.id);
  if (!split)
    return {
      error: `tool "${tool}" is not a gateway tool name: expected <upstream>__<tool>, upstreams are ${upstreamIds.join(", ") || "(none)"}`,
    };
  if (!upstreamIds.includes(split.upstreamId))
    return {
      error: `no upstream "${split.upstreamId}" in the bundle (upstreams: ${upstreamIds.join(", ") || "(none)"})`,
    };
  const scopes = parseScopes(claims[bundle.auth.scopeClaim]);
  if (!scopes)
    return { error: `claim ${bundle.auth.scopeClaim} must be an array of strings or a space-separated string` };
  const clientClaim = bundle.auth.clientClaims.find((c) => typeof claims[c] === "string");
  const client = clientClaim ? (claims[clientClaim] as string) : undefined;
  const principal = { subject: typeof claims.sub === "string" ? claims.sub : undefined, client, scopes };
  const base = { tool, upstream: split.upstreamId, upstreamTool: split.name, principal };
  if (bundle.auth.allowedClients && (client === undefined || !bundle.auth.allowedClients.includes(client))) {
    return {
      ...base,
      allowed: false,
      rule: "client not allowed (auth.allowedClients): the token is refused before any tool rule",
      requiredScopes: [],
    };
  }
  const policy = compileToolPolicy(bundle.mcp ?? { grants: [], deny: [], alwaysBlocked: [] });
  const decision = decideTool(scopes, split.upstreamId, split.name, policy);
  return decision.allowed
    ? { ...base, allowed: true, rule: `grant: ${decision.grantedBy}`, requiredScopes: [] }
    : { ...base, allowed: false, rule: decision.rule, requiredScopes: decision.requiredScopes };
}

export async function explainCommand(args: string[]): Promise<number> {
  const parsed = parseCommandArgs("explain", args, {
    bundle: { type: "string" },
    values: { type: "string" },
    overlay: { type: "string" },
    claims: { type: "string" },
    tool: { type: "string" },
    json: { type: "boolean", default: false },
  });
  if (!parsed) return 2;
  const { bundle: bundleFile, values: valuesFile, overlay: overlayFile, claims: claimsFile, tool } = parsed.values;
  if (!bundleFile || !claimsFile || !tool || parsed.positionals.length > 0) {
    console.error(USAGE);
    return 2;
  }
  let input: unknown;
  let values: Record<string, string> | undefined;
  let overlay: unknown;
  let claims: unknown;
  try {
    input = await readJson(bundleFile, "bundle");
    values = valuesFile ? ((await readJson(valuesFile, "values")) as Record<string, string>) : undefined;
    overlay = overlayFile ? await readJson(overlayFile, "overlay") : undefined;
    claims = await readJson(claimsFile, "claims");
  } catch (error) {
    console.error(`tollgate explain: ${(error as Error).message}`);
    return 2;
  }
  if (claims === null || typeof claims !== "object" || Array.isArray(claims)) {
    console.error(
      `tollgate explain: claims ${claimsFile}: expected a JSON object of token claims, e.g. {"sub":"alice","cid":"agent","scp":["mcp:read"]}`,
    );
    return 2;
  }
  const validated = validateForExplain(input, values, overlay);
  if (!validated.ok) {
    console.error(`${bundleFile}: invalid gateway bundle`);
    for (const issue of validated.issues) console.error(`  - ${formatIssue(issue)}`);
    return 2;
  }
  const result = explainTool(validated.bundle, claims as Record<string, unknown>, tool);
  if ("error" in result) {
    console.error(`tollgate explain: ${result.error}`);
    return 2;
  }
  if (parsed.values.json) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    const who = `sub=${result.principal.subject ?? "(none)"} client=${result.principal.client ?? "(none)"} scopes=${result.principal.scopes.join(" ") || "(none)"}`;
    console.log(
      `${result.allowed ? "ALLOWED" : "DENIED"}: ${result.tool} (upstream ${result.upstream}, tool ${result.upstreamTool})`,
    );
    console.log(`  rule:   ${result.rule}`);
    if (result.requiredScopes.length > 0) console.log(`  needs:  one of ${result.requiredScopes.join(", ")}`);
    console.log(`  caller: ${who}`);
  }
  return result.allowed ? 0 : 1;
}

/**
 * Whether secretlint's recommended preset, as the credential-leak guard runs it (the AWS rule with
 * `enableIDScanRule: true`, the text linted as `/llm-output.txt`), could report anything in a text. A full
 * secretlint pass is about sixty async rule evaluations; most model answers and tool results hold none of
 * the fixed strings below, so one regex pass over them settles it.
 *
 * Each rule's anchors are what every one of its matches must contain: a literal part of its pattern, or a
 * contiguous piece of the pattern itself (so a match of the rule is a match of the anchor), with the
 * pattern's case-sensitivity. When secretlint is updated, re-read every rule's patterns in
 * `node_modules/@secretlint/secretlint-rule-preset-recommend/module/index.js` against this table; the
 * tests (`test/policies/guard-secretlint-prefilter.test.ts`) fail when the preset's version or rule ids change.
 */
/** The preset's version whose rules this table was checked against. */
export const REVIEWED_PRESET_VERSION = "13.0.7";

export const SECRETLINT_RULE_ANCHORS: Readonly<Record<string, readonly RegExp[]>> = {
  // Access key ID (the ID scan Tollgate turns on), `..._ACCESS_KEY` and `..._ACCOUNT_ID` assignments.
  aws: [
    /(?:A3T[A-Z0-9]|AKIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ASIA)[A-Z0-9]{16}/,
    /(?:SECRET|secret|Secret)_?(?:ACCESS|access|Access)_?(?:KEY|key|Key)/,
    /(?:ACCOUNT|account|Account)_?(?:ID|id|Id)?["']?\s*(?::|=>|=)/,
  ],
  // Reports only files whose extension is .json or .p12; the guard's source has no extension.
  gcp: [],
  privatekey: [/-----BEGIN/],
  // `npm_` tokens; `x-oauth-basic` only in package.json and `_authToken=` only in .npmrc, kept in case the
  // guard's file path changes.
  npm: [/npm_/, /:x-oauth-basic@/, /_authToken=/],
  // user:password@ right after the scheme (case-sensitive: the pattern has no `i`).
  basicauth: [/(?:https?|ftps?):\/\/[-\w]+:[-\w]+@/],
  slack: [/(?:xox[bpaor]|xapp)-/, /hooks\.slack\.com\/services\//i],
  sendgrid: [/SG\.\w+\./],
  shopify: [/shp(?:pa|ca|at|ss)_/],
  stripe: [/[sr]k_(?:live|test)_/],
  github: [/gh[pousr]_|github_pat_/],
  gitlab: [/glpat-/],
  grafana: [/glc_|glsa_/],
  // Both forms hold "T3BlbkFJ" (base64 of "OpenAI").
  openai: [/T3BlbkFJ/],
  anthropic: [/sk-ant-api0/],
  groq: [/gsk_/],
  huggingface: [/hf_/],
  linear: [/lin_api_/],
  notion: [/ntn_/],
  "1password": [/ops_ey/],
  // Reported only with user:password@ (case-insensitive patterns).
  "database-connection-string": [/(?:mongodb(?:\+srv)?|mysqlx?|postgres(?:ql)?):\/\/[^:/\s]+:[^@/\s]+@/i],
  "hashicorp-vault": [/hv[sbr]\./],
  vercel: [/vc[piark]_/],
  databricks: [/dapi/],
  docker: [/dckr_pat_/],
  figma: [/figd_/],
  cloudflare: [/cf(?:k|ut|at)_/],
  tailscale: [/tskey-/],
  // Only suppresses other rules' findings (secretlint-disable comments); reports nothing itself.
  "filter-comments": [],
};

/** The anchors of every rule, one regex per set of flags (case-sensitive and case-insensitive), built once. */
const UNIONS: readonly RegExp[] = (() => {
  const byFlags = new Map<string, string[]>();
  for (const anchor of Object.values(SECRETLINT_RULE_ANCHORS).flat()) {
    const sources = byFlags.get(anchor.flags) ?? [];
    sources.push(anchor.source);
    byFlags.set(anchor.flags, sources);
  }
  return [...byFlags].map(([flags, sources]) => new RegExp(sources.join("|"), flags));
})();

/** False when secretlint's recommended preset (as the credential guard configures it) cannot report anything in `text`. */
export function mayHoldSecretlintFinding(text: string): boolean {
  return UNIONS.some((union) => union.test(text));
}

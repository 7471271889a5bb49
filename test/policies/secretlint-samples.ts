/**
 * Samples of every secret secretlint's recommended preset reports, built at run time from a seeded PRNG so
 * the repository never holds a literal credential. Used by the credential prefilter's tests.
 */
const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER = "abcdefghijklmnopqrstuvwxyz";
const DIGITS = "0123456789";
const ALNUM = UPPER + LOWER + DIGITS;
const HEX = "0123456789abcdef";

/** mulberry32, so a failure reproduces. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Sample secrets of one rule (short id, as `SECRETLINT_RULE_ANCHORS` names it), each reported alone. */
export type SampleMaker = (next: () => number) => string[];

export const SECRETLINT_SAMPLES: Readonly<Record<string, SampleMaker>> = {
  aws: (next) => {
    const s = (chars: string, n: number) => draw(next, chars, n);
    return [
      ["AKIA", s(UPPER + DIGITS, 16)].join(""),
      ["ASIA", s(UPPER + DIGITS, 16)].join(""),
      ["A3TX", s(UPPER + DIGITS, 16)].join(""),
      `AWS_SECRET_ACCESS_KEY=${s(ALNUM + "/+=", 40)}`,
      `"aws_secret_access_key": "${s(ALNUM + "/+", 40)}"`,
      `secretAccessKey => '${s(ALNUM, 40)}'`,
      `AWS_ACCOUNT_ID=${s(DIGITS, 12)}`,
      `"account_id": "${s(DIGITS, 4)}-${s(DIGITS, 4)}-${s(DIGITS, 4)}"`,
      `AccountId : ${s(DIGITS, 12)}`,
    ];
  },
  privatekey: (next) =>
    ["RSA ", "EC ", "OPENSSH ", ""].map((kind) => {
      const body = `MII${draw(next, ALNUM + "+/", 61)}\n${draw(next, ALNUM + "+/", 64)}\n${draw(next, ALNUM, 20)}==`;
      return [`-----BEGIN ${kind}PRIVATE KEY-----`, body, `-----END ${kind}PRIVATE KEY-----`].join("\n");
    }),
  npm: (next) => [`npm_${draw(next, ALNUM, 36)}`, `//registry/:token npm_${draw(next, ALNUM + "_", 36)}`],
  basicauth: (next) => [
    `https://deploy-bot:${draw(next, ALNUM, 12)}@git.internal.io/repo.git`,
    `ftp://ops_${draw(next, LOWER, 5)}:${draw(next, ALNUM + "-_", 10)}@files.corp.net`,
    `http://svc:${draw(next, ALNUM, 8)}@10.0.3.7.nip.io:8080/x`,
  ],
  slack: (next) => [
    `xoxb-${draw(next, DIGITS, 12)}-${draw(next, DIGITS, 13)}-${draw(next, ALNUM, 24)}`,
    `xoxp-${draw(next, DIGITS, 10)}-${draw(next, ALNUM, 30)}`,
    `xapp-1-${draw(next, ALNUM, 11)}-${draw(next, DIGITS, 13)}-${draw(next, HEX, 40)}`,
    `https://hooks.slack.com/services/T${draw(next, ALNUM, 8)}/B${draw(next, ALNUM, 8)}/${draw(next, ALNUM, 24)}`,
    `HTTPS://HOOKS.SLACK.COM/SERVICES/T${draw(next, ALNUM, 8)}/B${draw(next, ALNUM, 8)}/${draw(next, ALNUM, 24)}`,
    `https://Hooks.Slack.com/Services/t${draw(next, ALNUM, 8)}/b${draw(next, ALNUM, 8)}/${draw(next, ALNUM, 24)}`,
  ],
  sendgrid: (next) => [
    `SG.${draw(next, ALNUM, 22)}.${draw(next, ALNUM, 43)}`,
    `SG.${draw(next, ALNUM + "_", 22)}.${draw(next, ALNUM, 20)}-${draw(next, ALNUM, 22)}`,
  ],
  shopify: (next) => ["shpat", "shpss", "shpca", "shppa"].map((p) => `${p}_${draw(next, ALNUM, 32)}`),
  stripe: (next) => ["sk_live", "sk_test", "rk_live", "rk_test"].map((p) => `${p}_${draw(next, ALNUM, 24)}`),
  github: (next) => [
    ...["ghp", "gho", "ghu", "ghs", "ghr"].map((p) => `${p}_${draw(next, ALNUM, 36)}`),
    `github_pat_${draw(next, ALNUM, 22)}_${draw(next, ALNUM, 59)}`,
    `ghs_${draw(next, DIGITS, 7)}_${draw(next, ALNUM, 36)}.${draw(next, ALNUM, 80)}.${draw(next, ALNUM, 43)}`,
  ],
  gitlab: (next) => [`glpat-${draw(next, ALNUM, 20)}`, `glpat-${draw(next, ALNUM + "-_", 38)}`],
  grafana: (next) => [
    `glc_eyJ${draw(next, ALNUM + "+/", 60)}==`,
    `glsa_${draw(next, ALNUM, 32)}_${draw(next, HEX, 8)}`,
  ],
  openai: (next) => [
    `sk-${draw(next, ALNUM, 20)}T3BlbkFJ${draw(next, ALNUM, 20)}`,
    `sk-proj-${draw(next, ALNUM + "_-", 74)}T3BlbkFJ${draw(next, ALNUM + "_-", 74)}`,
    `sk-svcacct-${draw(next, ALNUM, 58)}T3BlbkFJ${draw(next, ALNUM, 58)}`,
  ],
  anthropic: (next) => [`sk-ant-api03-${draw(next, ALNUM + "_-", 93)}AA`, `sk-ant-api04-${draw(next, ALNUM, 100)}AA`],
  groq: (next) => [`gsk_${draw(next, ALNUM, 52)}`, `1gsk_${draw(next, DIGITS, 52)}`],
  huggingface: (next) => [`hf_${draw(next, UPPER + LOWER, 34)}`, `=hf_${draw(next, LOWER, 34)}`],
  linear: (next) => [`lin_api_${draw(next, ALNUM, 40)}`, `lin_api_${draw(next, ALNUM + "_", 128)}`],
  notion: (next) => [`ntn_${draw(next, DIGITS, 11)}${draw(next, ALNUM, 35)}`, `ntn_${draw(next, DIGITS, 46)}`],
  "1password": (next) =>
    [12, 40].map((n) => {
      // `ops_` and the base64 of a JSON object whose length leaves one byte over, so it ends in "fQ==".
      let json = JSON.stringify({
        email: `${draw(next, LOWER, n)}@1passwordserviceaccounts.lcl`,
        k: draw(next, ALNUM, 60),
      });
      while (json.length % 3 !== 1) json = json.replace("{", "{ ");
      return `ops_${Buffer.from(json).toString("base64")}`;
    }),
  "database-connection-string": (next) => [
    `postgres://app_rw:${draw(next, ALNUM, 14)}@db.internal:5432/orders`,
    `mongodb+srv://reporter:${draw(next, ALNUM, 14)}@cluster0.mongodb.net/app?retryWrites=true`,
    `jdbc:mysql://svc_user:${draw(next, ALNUM, 14)}@mysql.corp:3306/db`,
    `POSTGRESQL://APP_RW:${draw(next, ALNUM, 14)}@DB.INTERNAL/ORDERS`,
    `MySqlX://svc_user:${draw(next, ALNUM, 14)}@mysql.corp`,
  ],
  "hashicorp-vault": (next) => [
    `hvs.${draw(next, ALNUM + "_-", 95)}`,
    `hvb.${draw(next, ALNUM + "_-", 140)}`,
    `hvr.${draw(next, ALNUM, 90)}`,
  ],
  vercel: (next) => ["vcp", "vci", "vca", "vcr", "vck"].map((p) => `${p}_${draw(next, ALNUM, 24)}`),
  databricks: (next) => [`dapi${draw(next, HEX, 32)}`, `dapi${draw(next, HEX.toUpperCase(), 32)}-2`],
  docker: (next) => [`dckr_pat_${draw(next, ALNUM + "_-", 27)}`, `dckr_pat_${draw(next, LOWER, 27)}`],
  figma: (next) => [`figd_${draw(next, ALNUM + "_-", 43)}`, `figd_${draw(next, ALNUM, 200)}`],
  cloudflare: (next) => ["cfk", "cfut", "cfat"].map((p) => `${p}_${draw(next, ALNUM, 40)}${draw(next, HEX, 8)}`),
  tailscale: (next) => [
    `tskey-auth-${draw(next, ALNUM, 12)}-${draw(next, ALNUM, 30)}`,
    `tskey-api-${draw(next, ALNUM, 10)}-${draw(next, ALNUM + "_", 20)}`,
  ],
};

function draw(next: () => number, chars: string, n: number): string {
  let out = "";
  for (let i = 0; i < n; i++) out += chars[Math.floor(next() * chars.length)];
  return out;
}

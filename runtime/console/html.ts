/**
 * HTML built from tagged templates: every interpolated value is escaped unless it is already {@link Html}
 * (built by `html` itself), so a principal, a tool name or a reason from an audit event can never become
 * markup.
 */

/** Markup that is safe to insert as is. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

type Value = Html | string | number | boolean | null | undefined | readonly Value[];

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function render(value: Value): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join("");
  if (value === null || value === undefined || value === false) return "";
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0] ?? "";
  values.forEach((value, i) => (out += render(value) + (strings[i + 1] ?? "")));
  return new Html(out);
}

/** The console's only stylesheet, served at `<base>/console.css` (the CSP allows no inline style). */
export const STYLESHEET = `
:root { color-scheme: light; --ink: #1d2430; --muted: #5b6576; --line: #d9dee7; --bg: #f6f7f9; --ok: #17663a; --bad: #a3281c; --warn: #8a5a00; --accent: #23508f; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: var(--bg); }
header { display: flex; align-items: center; gap: 24px; padding: 10px 24px; background: #1d2430; color: #fff; }
header .brand { font-weight: 700; letter-spacing: .02em; }
header nav a { color: #cfd8e6; text-decoration: none; margin-right: 16px; }
header nav a[aria-current="page"] { color: #fff; border-bottom: 2px solid #fff; }
header form { margin-left: auto; }
header .who { color: #cfd8e6; margin-left: auto; }
main { padding: 20px 24px; max-width: 1200px; }
h1 { font-size: 20px; margin: 0 0 12px; }
h2 { font-size: 16px; margin: 20px 0 8px; }
table { border-collapse: collapse; background: #fff; border: 1px solid var(--line); }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: #eef1f5; font-weight: 600; }
td.allow { color: var(--ok); font-weight: 600; }
td.refuse { color: var(--muted); }
td.deny, td.always-blocked { color: var(--bad); font-weight: 600; }
tr.blocked td.tool::after { content: "always blocked"; margin-left: 8px; padding: 0 6px; border-radius: 3px; background: #fbe4e1; color: var(--bad); font: 600 11px system-ui, sans-serif; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 13px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; background: #fff; border: 1px solid var(--line); padding: 12px 16px; }
dt { color: var(--muted); }
dd { margin: 0; }
.state-up, .decision-allow, .ready { color: var(--ok); font-weight: 600; }
.state-down, .decision-deny, .decision-block, .decision-error, .not-ready, .error { color: var(--bad); font-weight: 600; }
.state-unknown, .state-cooling-down, .decision-rate-limited, .decision-redact, .decision-failover { color: var(--warn); font-weight: 600; }
.note { color: var(--muted); }
form.filters, form.explain { display: flex; flex-wrap: wrap; gap: 10px; align-items: end; margin-bottom: 12px; }
form.explain { flex-direction: column; align-items: stretch; max-width: 720px; }
form.explain button { align-self: flex-start; }
label { display: flex; flex-direction: column; gap: 2px; color: var(--muted); font-size: 12px; }
input, select, textarea, button { font: inherit; padding: 4px 8px; border: 1px solid var(--line); border-radius: 4px; }
textarea { min-height: 120px; font-family: ui-monospace, Menlo, monospace; }
button, a.button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; text-decoration: none; padding: 6px 14px; border-radius: 4px; display: inline-block; }
header button { background: transparent; border-color: #5b6576; color: #cfd8e6; }
.signin { max-width: 480px; margin: 80px auto; background: #fff; border: 1px solid var(--line); padding: 24px 28px; }
meter { width: 160px; }
`;

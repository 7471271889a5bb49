/**
 * `tollgate` command dispatcher. Each subcommand lives in its own module and returns an exit code.
 */
import { readFile } from "node:fs/promises";
import { schemaCommand } from "./schema.js";
import { validateCommand } from "./validate.js";

export type Command = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, { run: () => Promise<Command> | Command; summary: string }> = {
  validate: {
    run: () => validateCommand,
    summary: "validate <bundle.json> [--values values.json] [--overlay overlay.json] [--runtime]   digest and rules",
  },
  schema: { run: () => schemaCommand, summary: "schema [--out file]   print the bundle's JSON Schema" },
  diff: {
    run: async () => (await import("./diff.js")).diffCommand,
    summary:
      "diff <base> <head> [--format markdown|json] [--plan [<stack>=]plan.json]... [--tools catalog.json] [--fail-on widening,replace,tamper]   what a change means for access",
  },
  serve: {
    run: async () => (await import("./serve.js")).serveCommand,
    summary:
      "serve --bundle <bundle.json> [--values values.json] [--overlay overlay.json] [--host 127.0.0.1] [--port 8080] [--metrics-port <port|off>] [--no-watch]   run the gateway",
  },
  explain: {
    run: async () => (await import("./explain.js")).explainCommand,
    summary:
      "explain --bundle <bundle.json> (--token <jwt> [--no-verify] | --claims <claims.json>) --tool <upstream__tool> [--values …] [--overlay …] [--json]   why a tool is allowed or denied",
  },
  keygen: {
    run: async () => (await import("./keygen.js")).keygenCommand,
    summary:
      "keygen --out <private.jwk.json> [--alg RS256|ES256] [--kid <id>] [--force] [--print-private]   a key pair for private_key_jwt (public JWK on stdout)",
  },
  dashboards: {
    run: async () => (await import("./dashboards.js")).dashboardsCommand,
    summary: "dashboards --out <dir>   Grafana dashboard and PrometheusRule alerts for the gateway's metrics",
  },
  dev: {
    run: async () => (await import("./dev-token.js")).devCommand,
    summary:
      'dev token [--user <name>] [--scopes "<scopes>"] [--client <id> | --agent <id>] [--state <state.json>] [--json]   a token from the local platform (npm start)',
  },
};

/** Lets other modules add subcommands without this file importing their dependencies eagerly. */
export function registerCommand(name: string, summary: string, load: () => Promise<Command>): void {
  COMMANDS[name] = { run: load, summary };
}

function usage(): string {
  return [
    "usage: tollgate <command> [options]",
    "       tollgate <command> --help    the command's flags and exit codes",
    "       tollgate --version",
    "",
    ...Object.values(COMMANDS).map((c) => `  ${c.summary}`),
  ].join("\n");
}

/** The installed package's version: package.json sits two levels above both the sources and the build. */
async function version(): Promise<string> {
  const text = await readFile(new URL("../../package.json", import.meta.url), "utf8");
  return (JSON.parse(text) as { version: string }).version;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name ? 0 : 2;
  }
  if (name === "--version" || name === "-v") {
    console.log(await version());
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`tollgate: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return (await command.run())(rest);
}

import { parseArgs, type ParseArgsConfig } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;
type Parsed<T extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>
>;

/**
 * node:util parseArgs for one subcommand. `--help`/`-h` prints `usage` to stdout and yields exit code 0;
 * an unknown or malformed flag prints the error and `usage` to stderr and yields 2. Otherwise the parsed
 * values. `usage` is the subcommand's whole help: synopsis, flags and exit codes.
 */
export function parseCommandArgs<T extends Options>(
  command: string,
  args: string[],
  options: T,
  usage: string,
): Parsed<T> | number {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(usage);
    return 0;
  }
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    console.error(`tollgate ${command}: ${(error as Error).message}\n\n${usage}`);
    return 2;
  }
}

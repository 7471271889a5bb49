import { parseArgs, type ParseArgsConfig } from "node:util";

/** node:util parseArgs with errors turned into a one-line message and exit code 2. */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig["options"]>>(
  command: string,
  args: string[],
  options: T,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>> | undefined {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    console.error(`tollgate ${command}: ${(error as Error).message}`);
    return undefined;
  }
}

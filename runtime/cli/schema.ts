import { writeFile } from "node:fs/promises";
import { bundleJsonSchema } from "../../policies/bundle/index.js";
import { parseCommandArgs } from "./args.js";

const USAGE = `usage: tollgate schema [--out <file>]

Prints the gateway bundle's JSON Schema (generated from the zod schema the gateway validates with).
  --out <file>   write it to a file instead of stdout
exit codes: 0 written, 2 usage`;

/** `tollgate schema [--out file]`: the bundle's JSON Schema, generated from the zod schema. */
export async function schemaCommand(args: string[]): Promise<number> {
  const parsed = parseCommandArgs("schema", args, { out: { type: "string" } }, USAGE);
  if (typeof parsed === "number") return parsed;
  if (parsed.positionals.length > 0) {
    console.error(USAGE);
    return 2;
  }
  const text = `${JSON.stringify(bundleJsonSchema(), null, 2)}\n`;
  if (parsed.values.out) await writeFile(parsed.values.out, text);
  else process.stdout.write(text);
  return 0;
}

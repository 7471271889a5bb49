import { writeFile } from "node:fs/promises";
import { bundleJsonSchema } from "../../policies/bundle/index.js";
import { parseCommandArgs } from "./args.js";

/** `tollgate schema [--out file]`: the bundle's JSON Schema, generated from the zod schema. */
export async function schemaCommand(args: string[]): Promise<number> {
  const parsed = parseCommandArgs("schema", args, { out: { type: "string" } });
  if (!parsed) return 2;
  const text = `${JSON.stringify(bundleJsonSchema(), null, 2)}\n`;
  if (parsed.values.out) await writeFile(parsed.values.out, text);
  else process.stdout.write(text);
  return 0;
}

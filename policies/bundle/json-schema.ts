import { z } from "zod";
import { SynthBundleSchema } from "./schema.js";

/** JSON Schema (draft 2020-12) of the bundle as written at synth. Checked into the repo as bundle.schema.json. */
export function bundleJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(SynthBundleSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  return { $id: "https://tollgate.dev/schemas/bundle/v1alpha1.json", title: "Tollgate gateway bundle", ...schema };
}

import { describe, expect, it } from "vitest";
import { environmentStack, synthJson } from "./synth-helpers.js";

/**
 * Construct IDs are Terraform addresses: renaming one destroys and recreates the resource. This
 * snapshot of every address in the default environment makes any rename a visible diff.
 */
describe("the default environment's Terraform addresses", () => {
  for (const name of ["dev", "prod"] as const) {
    it(`${name}: no resource, data source or variable is renamed unnoticed`, () => {
      const tf = synthJson(environmentStack(name)) as unknown as Record<
        string,
        Record<string, Record<string, unknown>> | undefined
      >;
      const addresses = [
        ...Object.entries(tf.resource ?? {}).flatMap(([type, byName]) =>
          Object.keys(byName).map((n) => `${type}.${n}`),
        ),
        ...Object.entries(tf.data ?? {}).flatMap(([type, byName]) =>
          Object.keys(byName).map((n) => `data.${type}.${n}`),
        ),
        ...Object.keys(tf.variable ?? {}).map((n) => `var.${n}`),
      ].sort();
      expect(addresses).toMatchSnapshot();
    });
  }
});

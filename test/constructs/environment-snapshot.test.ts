/**
 * Construct IDs are Terraform addresses: renaming one destroys and recreates the resource. The example
 * environment's addresses are a reviewed, checked-in list (environment-addresses.txt); this test compares
 * a fresh synth with it. It is not a vitest snapshot, so `vitest -u` cannot accept a rename silently.
 */
import { relative } from "node:path";
import { describe, expect, it } from "vitest";
import {
  ADDRESS_LIST_FILE,
  ENVIRONMENT_NAMES,
  WRITE_COMMAND,
  environmentAddresses,
  readAddressList,
} from "../support/environment-addresses.js";

const recorded = readAddressList();

describe("the example environment's Terraform addresses", () => {
  it("the list covers exactly the example's environments", () => {
    expect([...recorded.keys()].sort()).toEqual([...ENVIRONMENT_NAMES].sort());
  });

  it.each(ENVIRONMENT_NAMES)(
    "%s: no resource, data source or variable is renamed, added or removed unnoticed",
    (name) => {
      const expected = recorded.get(name) ?? [];
      const actual = environmentAddresses(name).map((a) => a.address);
      const gone = expected.filter((a) => !actual.includes(a));
      const added = actual.filter((a) => !expected.includes(a));
      if (gone.length > 0 || added.length > 0) {
        expect.fail(
          [
            `The ${name} environment's Terraform addresses differ from ${relative(process.cwd(), ADDRESS_LIST_FILE)}.`,
            ...(gone.length > 0
              ? [
                  `No longer synthesized (terraform apply would DESTROY these; a rename also creates the new address):`,
                  ...gone.map((a) => `  - ${a}`),
                ]
              : []),
            ...(added.length > 0 ? ["Newly synthesized:", ...added.map((a) => `  + ${a}`)] : []),
            "If a construct ID changed by accident, restore it (constructs keep their IDs).",
            "If the change is intended, plan the state move (a Terraform `moved` block), then update the list on purpose:",
            `  ${WRITE_COMMAND}`,
          ].join("\n"),
        );
      }
    },
  );
});

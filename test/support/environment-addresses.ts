/**
 * The Terraform addresses of the example environment (stacks/environments.ts), as a checked-in list that
 * a reviewer reads: test/constructs/environment-addresses.txt. An address is derived from a construct ID
 * path, and Terraform treats a changed address as one resource destroyed and another created, so the list
 * changes only when someone means it to:
 *
 *   npx node --import tsx test/support/environment-addresses.ts --write
 *
 * (`vitest -u` does not touch it.) Without `--write` the script prints the current list.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { Testing, TerraformDataSource, TerraformResource, TerraformVariable } from "cdktf";
import { EnvironmentStack } from "../../stacks/environment-stack.js";
import { ENVIRONMENTS, type EnvironmentName } from "../../stacks/environments.js";

export const ADDRESS_LIST_FILE = resolve(import.meta.dirname, "../constructs/environment-addresses.txt");
export const WRITE_COMMAND = "npx node --import tsx test/support/environment-addresses.ts --write";
export const ENVIRONMENT_NAMES: readonly EnvironmentName[] = ["dev", "prod"];

/** One address and the construct path it comes from (for the reader; only the address is compared). */
export interface TerraformAddress {
  readonly address: string;
  readonly constructPath: string;
}

type SynthesizedJson = Partial<Record<"resource" | "data", Record<string, Record<string, unknown>>>> & {
  variable?: Record<string, unknown>;
};

/** Every resource, data source and variable address of environment `name`, sorted, from a validated synth. */
export function environmentAddresses(name: EnvironmentName): TerraformAddress[] {
  const stack = new EnvironmentStack(Testing.app(), ENVIRONMENTS[name]);
  const tf = JSON.parse(Testing.synth(stack, true)) as SynthesizedJson;
  const paths = new Map<string, string>();
  for (const c of stack.node.findAll()) {
    const relative = c.node.path.split("/").slice(1).join("/");
    if (c instanceof TerraformResource) paths.set(`${c.terraformResourceType}.${c.friendlyUniqueId}`, relative);
    else if (c instanceof TerraformDataSource)
      paths.set(`data.${c.terraformResourceType}.${c.friendlyUniqueId}`, relative);
    else if (c instanceof TerraformVariable) paths.set(`var.${c.friendlyUniqueId}`, relative);
  }
  const addresses = [
    ...Object.entries(tf.resource ?? {}).flatMap(([type, byName]) => Object.keys(byName).map((n) => `${type}.${n}`)),
    ...Object.entries(tf.data ?? {}).flatMap(([type, byName]) => Object.keys(byName).map((n) => `data.${type}.${n}`)),
    ...Object.keys(tf.variable ?? {}).map((n) => `var.${n}`),
  ].sort();
  return addresses.map((address) => ({ address, constructPath: paths.get(address) ?? "?" }));
}

const HEADER = `# Terraform addresses of the example environment (stacks/environments.ts), by environment.
# Each address comes from a construct ID path (shown after it). Terraform reads a changed address as
# "destroy the old resource, create a new one": an Okta app gets new client IDs, a namespace is deleted
# with everything in it. Change this list only on purpose, after reviewing the rename (and adding a
# Terraform \`moved\` block or planning the state move). Regenerate it with:
#   ${WRITE_COMMAND}
`;

/** The list file's text for the given environments. */
export function renderAddressList(byEnvironment: ReadonlyMap<EnvironmentName, readonly TerraformAddress[]>): string {
  const width = Math.max(...[...byEnvironment.values()].flat().map((a) => a.address.length));
  const sections = [...byEnvironment].map(
    ([name, addresses]) =>
      `[${name}]\n${addresses.map((a) => `${a.address.padEnd(width)}  # ${a.constructPath}`).join("\n")}\n`,
  );
  return `${HEADER}\n${sections.join("\n")}`;
}

/** The addresses recorded in the list file, by environment (comments and blank lines ignored). */
export function readAddressList(text = readFileSync(ADDRESS_LIST_FILE, "utf8")): Map<string, string[]> {
  const byEnvironment = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) continue;
    const section = /^\[([a-z0-9-]+)\]$/.exec(line);
    if (section?.[1]) byEnvironment.set(section[1], (current = []));
    else if (current) current.push(line);
    else throw new Error(`${ADDRESS_LIST_FILE}: "${line}" comes before any [environment] line`);
  }
  return byEnvironment;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const text = renderAddressList(new Map(ENVIRONMENT_NAMES.map((name) => [name, environmentAddresses(name)])));
  if (process.argv.includes("--write")) {
    writeFileSync(ADDRESS_LIST_FILE, text);
    console.log(`wrote ${ADDRESS_LIST_FILE}`);
  } else {
    process.stdout.write(text);
  }
}

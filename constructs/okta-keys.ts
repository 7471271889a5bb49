/**
 * Public keys of an Okta service app that authenticates with `private_key_jwt` (RFC 7523): literal keys as
 * `jwks` blocks, or a non-sensitive Terraform variable read at plan (`tollgate keygen` prints the value), so
 * no private key is ever in code, in Okta or in Terraform state. Shared by `OktaApps`' agent app and `Agent`.
 */
import type { AppOauth } from "@cdktf/provider-okta/lib/app-oauth/index.js";
import { TerraformVariable } from "cdktf";
import type { Construct } from "constructs";

/** A public key for `private_key_jwt`: RSA (`n`, `e`) or EC (`x`, `y`), as `tollgate keygen` prints it. */
export type PublicJwk =
  | { readonly kty?: "RSA"; readonly kid: string; readonly n: string; readonly e: string }
  | { readonly kty: "EC"; readonly kid: string; readonly x: string; readonly y: string };

export function jwksBlock(key: PublicJwk) {
  return key.kty === "EC"
    ? { kty: "EC", kid: key.kid, x: key.x, y: key.y }
    : { kty: "RSA", kid: key.kid, n: key.n, e: key.e };
}

/**
 * The non-sensitive variable that carries an app's public keys into the plan (public keys are no secret).
 * @param name the variable's name (made a valid Terraform identifier)
 * @param app what the description calls the app, e.g. `the Okta agent app "tollgate-dev"`
 * @param privateKeyHome where the description says the private key goes
 */
export function publicJwksVariable(
  owner: Construct,
  constructId: string,
  name: string,
  app: string,
  privateKeyHome = "the gateway's Secret",
): TerraformVariable {
  const id = name.replace(/[^a-zA-Z0-9_]/g, "_").replace(/^(?=[0-9])/, "_");
  const variable = new TerraformVariable(owner, constructId, {
    type: "string",
    nullable: false,
    description: `Public key(s) of ${app} for private_key_jwt, as JSON: a JWK or {"keys": [...]} (what \`tollgate keygen\` prints). The private key goes to ${privateKeyHome}, never here.`,
  });
  variable.overrideLogicalId(id);
  variable.addValidation({
    condition: `\${length(${keysOf(id)}) > 0 && try(alltrue([for k in ${keysOf(id)} : k.kid != "" && contains(["RSA", "EC"], k.kty) && !can(k.d)]), false)}`,
    errorMessage: `${id}: expected the agent app's public key as JSON, a JWK or {"keys": [...]}, each with a kid and kty RSA or EC and no private part ("d"): the stdout of \`tollgate keygen\`, never the private key file (Terraform prints a refused value: if it was the private key, generate a new pair).`,
  });
  return variable;
}

/** The keys of the variable's JSON, whether it holds one JWK or a JWKS (an empty list when it is no JSON). */
function keysOf(variableId: string): string {
  return `try(jsondecode(var.${variableId}).keys, [jsondecode(var.${variableId})], [])`;
}

/** One `jwks` block per key of the variable (a dynamic block: the keys are known at plan). */
export function registerKeysFrom(app: AppOauth, variable: TerraformVariable): void {
  app.addOverride("dynamic.jwks", {
    for_each: `\${${keysOf(variable.friendlyUniqueId)}}`,
    content: {
      kty: "${jwks.value.kty}",
      kid: "${jwks.value.kid}",
      n: "${try(jwks.value.n, null)}",
      e: "${try(jwks.value.e, null)}",
      x: "${try(jwks.value.x, null)}",
      y: "${try(jwks.value.y, null)}",
    },
  });
}

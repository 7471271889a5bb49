/**
 * How the checks recognise Tollgate's constructs without `instanceof`. An app can hold two copies of
 * Tollgate (a linked install, a library that depends on another version), and a class of one copy is not
 * the class of the other; a key from the global symbol registry is the same in both.
 */
import type { IConstruct } from "constructs";

const KIND = Symbol.for("tollgate.construct-kind");

export type TollgateKind =
  "GatewayRoute" | "McpScopes" | "GuardPolicy" | "GatewayBundle" | "GatewayDeployment" | "AgentCoreRuntime" | "Agent";

/** Records what kind of Tollgate construct `construct` is (once, in its constructor). */
export function markKind(construct: IConstruct, kind: TollgateKind): void {
  Object.defineProperty(construct, KIND, { value: kind, enumerable: false });
}

/** The Tollgate kind of `construct`, or undefined for any other construct. */
export function kindOf(construct: IConstruct): TollgateKind | undefined {
  return (construct as unknown as Record<symbol, TollgateKind | undefined>)[KIND];
}

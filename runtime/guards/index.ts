/**
 * Guards on MCP tool arguments and results (runtime part 2). STUB until the guards land: pass-through.
 */
import { type ActiveConfig, type ToolCallGuard, passThroughToolGuard } from "../http/types";

export function createToolCallGuard(_config: ActiveConfig): ToolCallGuard {
  return passThroughToolGuard;
}

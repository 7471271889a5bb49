/** Patterns of tools that destroy data or bypass review: always blocked outside dev, whatever a policy says. */
export const DESTRUCTIVE_TOOL_PATTERNS: readonly string[] = [
  "*delete*",
  "*destroy*",
  "*drop*",
  "*purge*",
  "merge_pull_request",
  "force_push*",
];

/**
 * The machine's process table through `ps` (Linux and macOS alike), for tests that check no process
 * was left behind. Zombies count as gone: they have exited and only wait to be reaped.
 */
import { execFileSync } from "node:child_process";

interface ProcessRow {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
}

function processTable(): ProcessRow[] {
  const out = execFileSync("ps", ["-A", "-o", "pid=,ppid=,pgid=,stat="], { encoding: "utf8" });
  return out
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length >= 4 && !(fields[3] ?? "").startsWith("Z"))
    .map(([pid, ppid, pgid]) => ({ pid: Number(pid), ppid: Number(ppid), pgid: Number(pgid) }));
}

/** Pids of the live processes in process group `pgid`. */
export function groupMembers(pgid: number): number[] {
  return processTable()
    .filter((p) => p.pgid === pgid)
    .map((p) => p.pid);
}

/** Pids of every live descendant of `pid`. */
export function descendants(pid: number): number[] {
  const table = processTable();
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const row of table) {
      if (row.ppid === parent) {
        found.push(row.pid);
        walk(row.pid);
      }
    }
  };
  walk(pid);
  return found;
}

/** Pids among `pids` that are still live (not exited, not zombies). */
export function stillLive(pids: readonly number[]): number[] {
  const live = new Set(processTable().map((p) => p.pid));
  return pids.filter((pid) => live.has(pid));
}

/**
 * Waits until none of `pids` is live, up to `timeoutMs` (a helper such as esbuild's service process ends
 * when its parent's pipe closes, a moment after the parent). Returns the survivors with their command.
 */
export async function survivorsAfter(pids: readonly number[], timeoutMs = 5_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let left = stillLive(pids);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    left = stillLive(pids);
  }
  return left.map((pid) => {
    try {
      return `${pid} ${execFileSync("ps", ["-o", "args=", "-p", String(pid)], { encoding: "utf8" }).trim()}`;
    } catch {
      return String(pid);
    }
  });
}

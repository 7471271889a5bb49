/**
 * Child processes of the local platform, each in its own process group so that stopping one also stops
 * everything it spawned (the gateway's stdio MCP servers), and so that Ctrl-C in the terminal reaches
 * only the orchestrator, which then stops the children in order.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";

export interface ManagedChild {
  readonly name: string;
  /** Pid of the group leader; the process group id is the same number. */
  readonly pid: number;
  readonly process: ChildProcess;
  /** Resolves when the group leader has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface SpawnOptions {
  readonly name: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Called with every stdout line (the gateway writes its audit events there). */
  readonly onStdoutLine?: (line: string) => void;
  /** Called with every stderr line. */
  readonly onStderrLine?: (line: string) => void;
}

/** Starts `process.execPath <args>` (Node 22, whatever `node` is on PATH) as the leader of a new process group. */
export function spawnNodeGroup(options: SpawnOptions): ManagedChild {
  const child = spawn(process.execPath, [...options.args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid === undefined) throw new Error(`could not start ${options.name}`);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  if (options.onStdoutLine && child.stdout) createInterface({ input: child.stdout }).on("line", options.onStdoutLine);
  else child.stdout?.resume();
  if (options.onStderrLine && child.stderr) createInterface({ input: child.stderr }).on("line", options.onStderrLine);
  else child.stderr?.resume();
  return { name: options.name, pid: child.pid, process: child, exited };
}

/** True while any process of the group `pgid` exists. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** True while the process `pid` exists (a zombie counts as gone once reaped by its parent). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is already gone
  }
}

/**
 * Stops a child's whole process group: SIGTERM (the gateway finishes in-flight requests and closes its
 * upstreams), then SIGKILL for anything still there after `graceMs`. Resolves once the group is empty.
 */
export async function stopGroup(child: ManagedChild, graceMs = 5_000): Promise<void> {
  signalGroup(child.pid, "SIGTERM");
  const timer = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), graceMs).unref());
  if ((await Promise.race([child.exited, timer])) === "timeout") signalGroup(child.pid, "SIGKILL");
  await child.exited;
  // Grandchildren (stdio MCP servers) may outlive the leader by a moment: they got SIGTERM with the group.
  const deadline = Date.now() + graceMs;
  while (groupAlive(child.pid)) {
    if (Date.now() > deadline) {
      signalGroup(child.pid, "SIGKILL");
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

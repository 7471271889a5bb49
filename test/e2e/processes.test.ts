/**
 * The local platform's process-group handling: stopping a child stops everything it spawned, even a
 * child that ignores SIGTERM, so Ctrl-C on `npm start` leaves no stray process.
 */
import { describe, expect, it } from "vitest";
import { groupAlive, processAlive, spawnNodeGroup, stopGroup } from "../../examples/local-platform/processes.js";
import { groupMembers, stillLive } from "./process-table.js";

/** A node process that starts a grandchild, prints both pids, then waits forever. */
function parentScript(ignoreTerm: boolean): string {
  return `
    const { spawn } = require("node:child_process");
    ${ignoreTerm ? 'process.on("SIGTERM", () => {});' : ""}
    const grandchild = spawn(process.execPath, ["-e", ${JSON.stringify(`${ignoreTerm ? 'process.on("SIGTERM", () => {});' : ""} setInterval(() => {}, 1000)`)}], { stdio: "ignore" });
    console.log(JSON.stringify({ parent: process.pid, grandchild: grandchild.pid }));
    setInterval(() => {}, 1000);
  `;
}

async function startFamily(ignoreTerm: boolean) {
  let resolvePids: (pids: { parent: number; grandchild: number }) => void = () => {};
  const pids = new Promise<{ parent: number; grandchild: number }>((r) => (resolvePids = r));
  const child = spawnNodeGroup({
    name: "family",
    args: ["-e", parentScript(ignoreTerm)],
    onStdoutLine: (line) => resolvePids(JSON.parse(line)),
  });
  return { child, pids: await pids };
}

describe("process groups of the local platform", () => {
  it("stopping a child also stops the processes it spawned", async () => {
    const { child, pids } = await startFamily(false);
    expect(processAlive(pids.grandchild)).toBe(true);
    await stopGroup(child, 2_000);
    expect(stillLive([pids.parent, pids.grandchild])).toEqual([]);
    expect(groupMembers(child.pid)).toEqual([]);
  });

  it("a child and grandchild that ignore SIGTERM are killed after the grace period", async () => {
    const { child, pids } = await startFamily(true);
    await stopGroup(child, 300);
    expect(stillLive([pids.parent, pids.grandchild])).toEqual([]);
    expect(groupMembers(child.pid)).toEqual([]);
  });

  it("the child is in its own process group, so a terminal's Ctrl-C reaches only the orchestrator", async () => {
    const { child } = await startFamily(false);
    try {
      expect(child.pid).not.toBe(process.pid);
      expect(groupAlive(child.pid)).toBe(true); // a group whose id is the child's pid exists: it leads its own group
    } finally {
      await stopGroup(child, 2_000);
    }
  });
});

/**
 * `npm start` as a user runs it: the start script's command, a terminal's Ctrl-C (SIGINT) or a
 * supervisor's SIGTERM, and nothing it started survives it.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { connectMcp } from "../../examples/local-platform/mcp-client.js";
import { descendants, survivorsAfter } from "./process-table.js";

const ROOT = resolve(import.meta.dirname, "../..");
const START_SCRIPT = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: { start: string } })
  .scripts.start;

/** The banner's Console line: the console's URL on the admin port and how to sign in; that URL answers the sign-in page. */
async function expectConsoleLine(banner: readonly string[]): Promise<void> {
  const line = banner.find((l) => /^\s+Console\s/.test(l));
  const url = /^\s+Console\s+(http:\/\/127\.0\.0\.1:\d+\/console\/)\s+\(sign in: "Log in as admin"\)$/.exec(
    line ?? "",
  )?.[1];
  expect(url, banner.join("\n")).toBeDefined();
  const page = await fetch(url ?? "");
  expect(page.status).toBe(200);
  expect(await page.text()).toContain("Sign in");
}

describe("npm start", () => {
  let child: ChildProcess | undefined;
  let dir: string | undefined;

  afterEach(async () => {
    if (child?.exitCode === null && child.pid) child.kill("SIGKILL");
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`${signal} stops the platform and every process it started, exiting 0`, async () => {
      expect(START_SCRIPT).toBe("node --import tsx examples/local-platform/start.ts");
      dir = await mkdtemp(join(tmpdir(), "tollgate-npm-start-"));
      const [, ...args] = START_SCRIPT.split(" ");
      child = spawn(process.execPath, args, {
        cwd: ROOT,
        env: { ...process.env, PORT: "0", TOLLGATE_METRICS_PORT: "0", TOLLGATE_LOCAL_DIR: dir },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stderr = "";
      child.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
      const exited = new Promise<number | null>((r) => child?.once("exit", (code) => r(code)));
      // Wait for the banner's last line: the platform is up.
      const banner: string[] = [];
      await new Promise<void>((resolveUp, reject) => {
        createInterface({ input: child?.stdout as NodeJS.ReadableStream }).on("line", (line) => {
          banner.push(line);
          if (line.includes("Ctrl-C stops everything")) resolveUp();
        });
        void exited.then((code) => reject(new Error(`npm start exited early (${code}):\n${stderr}`)));
      });
      const statePath = join(dir, "state.json");
      expect(existsSync(statePath)).toBe(true);
      await expectConsoleLine(banner);
      // Open an MCP session, so the gateway runs its stdio MCP servers when the signal comes.
      const { stdout: token } = await promisify(execFile)(
        process.execPath,
        [join(ROOT, "bin/tollgate.mjs"), "dev", "token", "--state", statePath, "--scopes", "mcp:read"],
        { cwd: ROOT },
      );
      const { gatewayUrl } = JSON.parse(readFileSync(statePath, "utf8")) as { gatewayUrl: string };
      const mcp = await connectMcp(`${gatewayUrl}/mcp`, token.trim());
      expect((await mcp.listTools()).tools.length).toBeGreaterThan(0);
      const family = descendants(child.pid as number);
      expect(family.length).toBeGreaterThanOrEqual(3); // the gateway and the session's MCP servers

      child.kill(signal);
      expect(await exited).toBe(0);
      expect(await survivorsAfter(family)).toEqual([]);
      expect(existsSync(statePath)).toBe(false);
    }, 120_000);
  }
});

/**
 * A provider key rotated in the mounted Secret (TOLLGATE_SECRETS_DIR, laid out as Kubernetes lays out a
 * secret volume: files that link through a `..data` directory link, swapped atomically on update) is used by
 * the next request, without a restart; the key never comes from the environment when a mounted file has it.
 */
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import { type IncomingMessage, type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestPlatform, startTestPlatform } from "../support/gateway.js";

/** An OpenAI-format upstream that records the key each request came with. */
async function startKeyRecordingUpstream(): Promise<{ server: Server; url: string; keys: string[] }> {
  const keys: string[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    keys.push(req.headers.authorization ?? "");
    req.resume();
    req.on("end", () => {
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          id: "chatcmpl-1",
          object: "chat.completion",
          created: 0,
          model: "gpt-4o-mini",
          choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }],
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, keys };
}

/** Writes a new version of the secret volume and swaps `..data` to it, as the kubelet does. */
async function writeSecretVersion(dir: string, version: number, values: Record<string, string>): Promise<void> {
  const versionDir = join(dir, `..v${version}`);
  await mkdir(versionDir);
  for (const [name, value] of Object.entries(values)) await writeFile(join(versionDir, name), value);
  await symlink(`..v${version}`, join(dir, "..data_tmp"));
  await rename(join(dir, "..data_tmp"), join(dir, "..data"));
}

describe("a provider key rotated in the mounted Secret", () => {
  let upstream: Awaited<ReturnType<typeof startKeyRecordingUpstream>>;
  let secrets: string;
  let platform: TestPlatform;

  beforeAll(async () => {
    upstream = await startKeyRecordingUpstream();
    secrets = await mkdtemp(join(tmpdir(), "tollgate-secrets-"));
    await writeSecretVersion(secrets, 1, { ROTATING_KEY: "key-one\n" });
    await symlink("..data/ROTATING_KEY", join(secrets, "ROTATING_KEY"));
    platform = await startTestPlatform({
      files: true,
      env: { TOLLGATE_SECRETS_DIR: secrets, ROTATING_KEY: "key-from-the-environment" },
      bundle: (bundle) => ({
        ...bundle,
        llm: {
          routes: [
            {
              id: "openai",
              pathPrefix: "/openai",
              policy: "default",
              providers: [{ id: "openai", kind: "openai", baseUrl: upstream.url, apiKey: { env: "ROTATING_KEY" } }],
            },
          ],
        },
      }),
    });
  });
  afterAll(async () => {
    await platform?.close();
    await new Promise<void>((resolve) => upstream?.server.close(() => resolve()));
    if (secrets) await rm(secrets, { recursive: true, force: true });
  });

  const chat = async () => {
    const token = await platform.token("reader");
    const response = await fetch(`${platform.url}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    return upstream.keys.at(-1);
  };

  it("is read from the mounted file, not the environment", async () => {
    expect(await chat()).toBe("Bearer key-one");
  });

  it("is used by the next request after the Secret is updated, without a restart", async () => {
    const reloaded = platform.nextReload();
    await writeSecretVersion(secrets, 2, { ROTATING_KEY: "key-two\n" });
    expect(await reloaded).toMatchObject({ status: "applied" });
    expect(await chat()).toBe("Bearer key-two");
  });
});

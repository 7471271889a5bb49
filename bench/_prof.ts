import { Pool } from "undici";
import { startAuthServer } from "../examples/local-platform/auth-server";
import { startLlmUpstream } from "../examples/local-platform/llm-upstream";
import { authTestBundle } from "../test/support/gateway";
import { pinThisProcess, startGatewayProcess } from "./support/gateway-process";
const AUDIENCE = "https://gateway.bench.test";
const mode = (process.env.PROF_MODE ?? "tollgate") as "tollgate" | "passthrough" | "llmstage";
const N = Number(process.env.PROF_N ?? 20000);
const stream = process.env.PROF_STREAM === "1";
const body = JSON.stringify({ model: "gpt-4o-mini", stream, messages: [
  { role: "system", content: "You are a helpful assistant for the support team. Answer briefly and cite the ticket number." },
  { role: "user", content: "What is the status of ticket 4411?" },
  { role: "assistant", content: "Ticket 4411 is waiting for the customer's reply since Tuesday." },
  { role: "user", content: "Draft a short, friendly follow-up asking whether the proposed workaround (clearing the cache and re-running the export) solved the problem, and offer a call on Thursday afternoon if it did not." } ] });
pinThisProcess();
const upstream = await startLlmUpstream({ maxRecorded: 0 });
const as = await startAuthServer({ audience: AUDIENCE, scopes: ["mcp:read"], clients: [{ clientId: "bench", clientSecret: "bench-secret", grants: ["client_credentials"], scopes: ["mcp:read"] }] });
const { access_token: token } = await as.clientCredentials({ clientId: "bench", clientSecret: "bench-secret", scopes: ["mcp:read"] });
const bundle = { ...authTestBundle(as.issuer, AUDIENCE), llm: { routes: [ { id: "openai", pathPrefix: "/openai", policy: "default", providers: [{ id: "openai", kind: "openai" as const, baseUrl: `${upstream.url}/v1`, apiKey: { env: "BENCH_KEY" } }] } ] },
  guardPolicies: [ { id: "default", pii: { mode: "mask" as const }, promptInjection: { mode: "block" as const }, credentialLeak: { mode: "block" as const, holdBackChars: 256 }, limits: { windowSeconds: 60, requestsPerWindow: 100_000_000, tokensPerWindow: 1_000_000_000_000 } } ] };
const gw = await startGatewayProcess({ mode, upstream: upstream.url, bundle, env: { BENCH_KEY: "k" } });
const pool = new Pool(`http://127.0.0.1:${gw.port}`, { connections: 32 });
const path = mode === "passthrough" ? "/v1/chat/completions" : "/openai/v1/chat/completions";
const headers = { "content-type": "application/json", authorization: `Bearer ${token}` };
async function run(n: number) { let next = 0; await Promise.all(Array.from({ length: 16 }, async () => { while (next++ < n) { const r = await pool.request({ path, method: "POST", headers, body }); await r.body.text(); if (r.statusCode !== 200) throw new Error(String(r.statusCode)); } })); }
await run(3000);
const c0 = await gw.cpuMicros(); const t0 = performance.now();
await run(N);
const c1 = await gw.cpuMicros();
console.log(`${mode} ${stream ? "stream" : "json"}: ${((c1 - c0) / N).toFixed(1)} µs/req cpu, ${(N / ((performance.now() - t0) / 1000)).toFixed(0)} req/s`);
gw.close(); await pool.close(); await upstream.close(); await as.close(); setTimeout(() => process.exit(0), 500).unref();

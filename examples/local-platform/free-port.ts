/**
 * A free TCP port on 127.0.0.1 for a server that binds it a moment later (the local platform's gateway,
 * test servers started as child processes), chosen below Linux's ephemeral range (32768 and up). The
 * port is known before the server binds it; an ephemeral port could be taken meanwhile by any outgoing
 * connection or any `listen(0)` on the machine (parallel test files make hundreds), one below that range
 * only by someone choosing it.
 */
import { createServer } from "node:net";

const LOWEST = 20_000;
const SPAN = 12_000;

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * SPAN);
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found between ${LOWEST} and ${LOWEST + SPAN}; name one (PORT)`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const server = createServer();
    server.once("error", () => resolveFree(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolveFree(true)));
  });
}

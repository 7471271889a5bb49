import type { ServerResponse } from "node:http";

/** Resolves when the client has taken what was written, or is gone (a closed response never drains). */
export function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.once("drain", done);
    res.once("close", done);
  });
}

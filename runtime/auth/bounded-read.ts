/**
 * Reads an issuer document (discovery metadata, JWKS) with a size cap: a declared `content-length` over
 * the cap is refused unread, and a body without one is read chunk by chunk and abandoned the moment it
 * passes the cap, so a hostile or broken issuer cannot make the gateway buffer or parse megabytes.
 */

export class DocumentTooLargeError extends Error {
  constructor(url: string, maxBytes: number) {
    super(`${url} is larger than ${maxBytes} bytes (auth.maxIssuerDocumentBytes)`);
    this.name = "DocumentTooLargeError";
  }
}

/** The body as text, at most `maxBytes` long; throws {@link DocumentTooLargeError} beyond. */
export async function readBounded(response: Response, url: string, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw new DocumentTooLargeError(url, maxBytes);
  }
  const body = response.body;
  if (!body) return "";
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new DocumentTooLargeError(url, maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size).toString("utf8");
}

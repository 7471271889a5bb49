import { resolve } from "node:path";
import SwaggerParser from "@apidevtools/swagger-parser";

/** How long fetching a document (and the documents its `$ref`s name) may take at synth. */
const FETCH_TIMEOUT_MS = 20_000;

/**
 * An OpenAPI 3.0 or 3.1 document, parsed (JSON or YAML), validated against the OpenAPI schema and with every
 * `$ref` resolved, ready for `GatewayRoute.openapi`. Loading is asynchronous and cdktf synth is not: load the
 * documents first, then build the constructs.
 *
 * ```ts
 * const tickets = await OpenApiDocument.fromFile("apis/tickets.openapi.yaml");
 * const app = new App();
 * new MyStack(app, "dev", { tickets });
 * app.synth();
 * ```
 */
export class OpenApiDocument {
  /** Reads a document from a file (relative paths are from the current directory). */
  public static async fromFile(path: string): Promise<OpenApiDocument> {
    const absolute = resolve(path);
    return OpenApiDocument.load(absolute, `OpenApiDocument.fromFile(${JSON.stringify(path)})`, undefined);
  }

  /** Fetches a document over http(s); relative server URLs in it are resolved against `url`. */
  public static async fromUrl(url: string): Promise<OpenApiDocument> {
    const where = `OpenApiDocument.fromUrl(${JSON.stringify(url)})`;
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol))
      throw new Error(`${where}: expected an http(s) URL`);
    return OpenApiDocument.load(url, where, url);
  }

  /** Takes a document already in memory (a copy is kept; the object is not changed). */
  public static async fromObject(document: object, name = "document"): Promise<OpenApiDocument> {
    return OpenApiDocument.load(structuredClone(document), `OpenApiDocument.fromObject(${name})`, undefined);
  }

  private static async load(
    source: string | object,
    where: string,
    documentUrl: string | undefined,
  ): Promise<OpenApiDocument> {
    let document: unknown;
    try {
      // validate() also dereferences; a recursive schema stays a cycle in memory (converted later to finite JSON).
      document = await SwaggerParser.validate(
        source as never,
        {
          dereference: { circular: true },
          resolve: { http: { timeout: FETCH_TIMEOUT_MS } },
        } as never,
      );
    } catch (error) {
      throw new Error(`${where}: not a valid OpenAPI document: ${(error as Error).message}`, { cause: error });
    }
    const version = (document as { openapi?: unknown }).openapi;
    if (typeof version !== "string" || !/^3\.[01]\./.test(version))
      throw new Error(
        `${where}: expected an OpenAPI 3.0 or 3.1 document, got ${typeof version === "string" ? `OpenAPI ${version}` : "Swagger 2.0"}: convert it to OpenAPI 3.1`,
      );
    return new OpenApiDocument(where, document, documentUrl);
  }

  /** The OpenAPI version, e.g. `3.1.0`. */
  public readonly version: string;
  /** `info.title`. */
  public readonly title: string;

  private constructor(
    /** How the document was loaded, for error messages. */
    public readonly source: string,
    /** The dereferenced document (may contain cycles where schemas are recursive). */
    public readonly document: unknown,
    /** Where it was fetched from, to resolve relative server URLs. */
    public readonly documentUrl: string | undefined,
  ) {
    const doc = document as { openapi: string; info?: { title?: unknown } };
    this.version = doc.openapi;
    this.title = typeof doc.info?.title === "string" ? doc.info.title : "";
  }
}

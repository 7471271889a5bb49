/**
 * A request's guarded messages serialized (`JSON.stringify` of each, UTF-8) as the inside of a JSON array,
 * `m0,m1,…`, and the offset where each one ends. A request that extends a remembered one is its remembered
 * prefix plus its new messages' serializations, and its bytes are written once, straight into the first provider
 * body that needs them (which then holds them): one copy of the history per request, not one per message, and no
 * second buffer of the same bytes beside the provider body.
 */
export class EncodedMessages {
  /** The bytes once written; until then, the prefix of `base` and `added` say what they are. */
  private written: Buffer | undefined;
  private base: EncodedMessages | undefined;
  private added: string;

  /** `base`'s first `keep` messages, then the `added` serializations. */
  static after(base: EncodedMessages | undefined, keep: number, added: readonly string[]): EncodedMessages {
    const ends = base ? base.ends.slice(0, keep) : [];
    let at = ends.length > 0 ? (ends[ends.length - 1] as number) : 0;
    const kept = at;
    for (const text of added) {
      at += (ends.length > 0 ? 1 : 0) + Buffer.byteLength(text);
      ends.push(at);
    }
    const joined = added.length > 0 ? `${kept > 0 ? "," : ""}${added.join(",")}` : "";
    // A base never forwarded (refused after its guards) is written now: no chain of unwritten requests grows.
    if (kept > 0) base?.bytes();
    return new EncodedMessages(kept > 0 ? base : undefined, kept, joined, ends);
  }

  private constructor(
    base: EncodedMessages | undefined,
    private readonly kept: number,
    added: string,
    readonly ends: readonly number[],
  ) {
    this.base = base;
    this.added = added;
  }

  get byteLength(): number {
    return this.ends.length > 0 ? (this.ends[this.ends.length - 1] as number) : 0;
  }

  /** Writes the messages into `target` at `offset`; the first write makes that region these messages' bytes. */
  writeInto(target: Buffer, offset: number): void {
    if (this.written) {
      this.written.copy(target, offset);
      return;
    }
    if (this.base) this.base.bytes().copy(target, offset, 0, this.kept);
    target.write(this.added, offset + this.kept);
    this.written = target.subarray(offset, offset + this.byteLength);
    this.base = undefined;
    this.added = "";
  }

  bytes(): Buffer {
    if (!this.written) this.writeInto(Buffer.allocUnsafe(this.byteLength), 0);
    return this.written as Buffer;
  }
}

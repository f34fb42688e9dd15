// A host's console transcript: the bytes a user of the guest sees, as the host produced them.

/** Console bytes, kept in a growable buffer. Past the cap only the tail is kept. */
export class ConsoleBuffer {
  static readonly CAP = 16 * 1024 * 1024;
  private buf = new Uint8Array(4096);
  private len = 0;
  /** Bytes dropped from the front because the cap was reached. */
  dropped = 0;

  push(byte: number): void {
    if (this.len === this.buf.length) {
      if (this.len >= ConsoleBuffer.CAP) {
        const keep = this.len >>> 1;
        this.buf.copyWithin(0, this.len - keep, this.len);
        this.dropped += this.len - keep;
        this.len = keep;
      } else {
        const next = new Uint8Array(Math.min(this.buf.length * 2, ConsoleBuffer.CAP));
        next.set(this.buf);
        this.buf = next;
      }
    }
    this.buf[this.len++] = byte;
  }

  get bytes(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  /** Replace the contents (restore). */
  load(bytes: Uint8Array, dropped: number): void {
    this.buf = new Uint8Array(Math.max(4096, bytes.length));
    this.buf.set(bytes);
    this.len = bytes.length;
    this.dropped = dropped;
  }

  /** The console as text (UTF-8, invalid sequences replaced). */
  get text(): string {
    const body = new TextDecoder('utf-8', { fatal: false }).decode(this.bytes);
    return this.dropped > 0 ? `[ringside: ${this.dropped} earlier console bytes dropped]\n${body}` : body;
  }
}

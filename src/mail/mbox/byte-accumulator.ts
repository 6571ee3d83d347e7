// Collects a message's bytes in 64 KiB slabs: copying small lines into slabs keeps the object
// count per message low (a 50 MB message of short lines is ~800 slabs, not a million Buffers).

const SLAB = 64 * 1024;

export class ByteAccumulator {
  private readonly slabs: Buffer[] = [];
  private current: Buffer = Buffer.allocUnsafe(SLAB);
  private pos = 0;
  size = 0;

  append(bytes: Uint8Array): void {
    let off = 0;
    while (off < bytes.length) {
      if (this.pos === this.current.length) {
        this.slabs.push(this.current);
        this.current = Buffer.allocUnsafe(SLAB);
        this.pos = 0;
      }
      const n = Math.min(bytes.length - off, this.current.length - this.pos);
      this.current.set(bytes.subarray(off, off + n), this.pos);
      this.pos += n;
      off += n;
    }
    this.size += bytes.length;
  }

  /** The bytes collected, as chunks in order; the accumulator must not be used afterwards. */
  take(): Buffer[] {
    const out = this.slabs.slice();
    if (this.pos > 0) out.push(this.current.subarray(0, this.pos));
    return out;
  }
}

/**
 * An append-only byte buffer that grows by half when full. The exposition is
 * written straight into bytes: no per-line strings concatenated into a
 * multi-megabyte string, then copied again into a Buffer — that garbage is
 * what made the heap (and RSS) grow with the interface count.
 */
/** Up to this many bytes, copying in a JS loop is faster than a native call. */
const SMALL = 96;

export class GrowableBuffer {
  private buf: Buffer;
  private pos = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafeSlow(Math.max(1024, initialBytes));
  }

  get length(): number {
    return this.pos;
  }

  /** Appends a string as UTF-8. */
  string(s: string): void {
    this.reserve(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** Appends a string known to be ASCII (metric names, numbers): cheaper than UTF-8. */
  ascii(s: string): void {
    const n = s.length;
    this.reserve(n);
    if (n > SMALL) {
      this.pos += this.buf.write(s, this.pos, 'latin1');
      return;
    }
    // Short strings (sample values): a plain loop beats a native call.
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < n; i++) buf[pos++] = s.charCodeAt(i);
    this.pos = pos;
  }

  /**
   * Appends a safe integer in decimal without allocating a string (most
   * sample values are integers: one string each would be 20,000+ garbage
   * objects per collection).
   */
  integer(value: number): void {
    this.reserve(21);
    const buf = this.buf;
    let n = value;
    if (n < 0) {
      buf[this.pos++] = 0x2d; // '-'
      n = -n;
    }
    let digits = 1;
    for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits++;
    let at = this.pos + digits;
    this.pos = at;
    do {
      buf[--at] = 0x30 + (n % 10);
      n = Math.floor(n / 10);
    } while (n > 0);
  }

  /** Appends bytes. */
  bytes(b: Uint8Array, start = 0, end = b.length): void {
    const n = end - start;
    this.reserve(n);
    if (n > SMALL) {
      this.buf.set(start === 0 && end === b.length ? b : b.subarray(start, end), this.pos);
      this.pos += n;
      return;
    }
    // Short runs (metric names, label sets): a plain loop beats a native call.
    const buf = this.buf;
    let pos = this.pos;
    for (let i = start; i < end; i++) buf[pos++] = b[i]!;
    this.pos = pos;
  }

  /** Appends one byte. */
  byte(value: number): void {
    this.reserve(1);
    this.buf[this.pos++] = value;
  }

  /**
   * The bytes written. Shares the working buffer when little of it is unused
   * (size hints make that the rule); copies into an exact fit otherwise.
   */
  finish(): Buffer {
    if (this.buf.length - this.pos <= this.pos / 4) return this.buf.subarray(0, this.pos);
    const out = Buffer.allocUnsafeSlow(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }

  /** A view of the bytes written so far (valid until the next append). */
  view(start = 0, end = this.pos): Buffer {
    return this.buf.subarray(start, end);
  }

  private reserve(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    // By half, not double: an exposition that outgrew its size hint is a few percent larger, not twice.
    let size = Math.ceil(this.buf.length * 1.5);
    while (size < this.pos + extra) size = Math.ceil(size * 1.5);
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}

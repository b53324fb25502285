// A cursor over untrusted payload bytes: every read checks what is left first, the first error wins and is
// kept as numbers (no string is built until describe()), and reads after an error return 0 and read nothing.
// Reused across frames, so decoding a STATE on the hot path allocates nothing.
import { SBP_ERR_LENGTH, SBP_ERR_RANGE, SBP_ERR_TYPE, SBP_OK } from './sbp-error.js';

export class PayloadReader {
  code = SBP_OK;
  /** The field being read when the error happened (a constant string). */
  field = '';
  /** LENGTH: payload offset of the read; RANGE: the value read. */
  errorA = 0;
  /** LENGTH: bytes the read needed (0 for left-over bytes); RANGE: the maximum. */
  errorB = 0;
  /** LENGTH: bytes left at the read. */
  errorC = 0;

  private bytes: Uint8Array = new Uint8Array(0);
  private view = new DataView(this.bytes.buffer);
  private start = 0;
  private at = 0;
  private end = 0;

  /** Read bytes[offset, offset + length). A DataView is made only when the underlying buffer changes. */
  reset(bytes: Uint8Array, offset: number, length: number): this {
    if (bytes !== this.bytes) {
      this.bytes = bytes;
      this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    this.start = offset;
    this.at = offset;
    this.end = offset + length;
    this.code = SBP_OK;
    this.field = '';
    return this;
  }

  get ok(): boolean {
    return this.code === SBP_OK;
  }

  /** Bytes not read yet. */
  get left(): number {
    return this.end - this.at;
  }

  /** Offset of the next read inside the underlying bytes (for text and raw copies). */
  get position(): number {
    return this.at;
  }

  /** Reserve n bytes; returns their offset in the underlying bytes, or -1 (and a LENGTH error). */
  take(n: number, field: string): number {
    if (this.code !== SBP_OK) return -1;
    const left = this.end - this.at;
    if (n > left) {
      this.code = SBP_ERR_LENGTH;
      this.field = field;
      this.errorA = this.at - this.start;
      this.errorB = n;
      this.errorC = left;
      return -1;
    }
    const at = this.at;
    this.at += n;
    return at;
  }

  u8(field: string): number {
    const at = this.take(1, field);
    return at < 0 ? 0 : this.bytes[at];
  }

  u16(field: string): number {
    const at = this.take(2, field);
    return at < 0 ? 0 : this.view.getUint16(at, true);
  }

  u32(field: string): number {
    const at = this.take(4, field);
    return at < 0 ? 0 : this.view.getUint32(at, true);
  }

  /** u64 as a number: exact below 2^53 (285 years of microseconds). */
  u64Number(field: string): number {
    const at = this.take(8, field);
    return at < 0 ? 0 : this.view.getUint32(at, true) + this.view.getUint32(at + 4, true) * 4294967296;
  }

  u64(field: string): bigint {
    const at = this.take(8, field);
    return at < 0 ? 0n : this.view.getBigUint64(at, true);
  }

  f32(field: string): number {
    const at = this.take(4, field);
    return at < 0 ? 0 : this.view.getFloat32(at, true);
  }

  /** count f32 values into out[0, count); the whole run is length-checked before any is read. */
  f32s(field: string, count: number, out: Float64Array | number[]): boolean {
    const at = this.take(4 * count, field);
    if (at < 0) return false;
    const view = this.view;
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(at + 4 * i, true);
    return true;
  }

  /** A count byte, checked against its maximum before anything it counts is read; 0 after an error. */
  count(field: string, max: number): number {
    const v = this.u8(field);
    if (this.code !== SBP_OK) return 0;
    if (v > max) {
      this.range(field, v, max);
      return 0;
    }
    return v;
  }

  /** Record a RANGE error (an enum value that is not defined, or a count above its maximum). */
  range(field: string, value: number, max: number): void {
    if (this.code !== SBP_OK) return;
    this.code = SBP_ERR_RANGE;
    this.field = field;
    this.errorA = value;
    this.errorB = max;
  }

  /** Record a TYPE error. */
  unknownType(type: number): void {
    if (this.code !== SBP_OK) return;
    this.code = SBP_ERR_TYPE;
    this.field = 'type';
    this.errorA = type;
  }

  /** After the last field: bytes left over are a LENGTH error. Returns whether the payload decoded. */
  finish(): boolean {
    if (this.code === SBP_OK && this.at !== this.end) {
      this.code = SBP_ERR_LENGTH;
      this.field = '(end)';
      this.errorA = this.at - this.start;
      this.errorB = 0;
      this.errorC = this.end - this.at;
    }
    return this.code === SBP_OK;
  }

  /** The error with its numbers, e.g. "STATE payload: positions needs 24 bytes at offset 13, 12 left". */
  describe(what: string): string {
    switch (this.code) {
      case SBP_OK: return `${what}: no error`;
      case SBP_ERR_TYPE: return `${what}: unknown message type 0x${this.errorA.toString(16).padStart(2, '0').toUpperCase()}`;
      case SBP_ERR_RANGE: return `${what}: ${this.field} ${this.errorA} is out of range (maximum ${this.errorB})`;
      case SBP_ERR_LENGTH:
        return this.errorB === 0
          ? `${what}: ${this.errorC} bytes left over after the last field at offset ${this.errorA}`
          : `${what}: ${this.field} needs ${this.errorB} bytes at offset ${this.errorA}, ${this.errorC} left`;
      default: return `${what}: error ${this.code}`;
    }
  }
}

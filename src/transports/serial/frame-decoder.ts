// Streaming SBP frame decoder: push byte runs as they arrive (serialport `data` events cut frames anywhere),
// take out whole frames. Byte-for-byte the state machine of sbp_decoder_feed() in firmware-bridge/src/sbp_frame.c:
// COBS is undone as bytes arrive, every length is checked before a byte is stored, a frame longer than the
// maximum is dropped as it arrives (nothing is buffered past SBP_MAX_BODY) and the decoder is back in step at the
// next 0x00. Bad input never throws: it shows as RX_DROPPED, a counter and the numbers in describeError().
import { checkBody, describeBodyError, type BodyCheck } from './frame.js';
import { SBP_HEADER_SIZE, SBP_MAX_BODY, SBP_MAX_ENCODED } from './protocol.js';
import { SBP_ERR_COBS, SBP_ERR_CRC, SBP_ERR_OVERSIZE, SBP_ERR_VERSION, SBP_OK, sbpCodeName, type SbpCodeName } from './sbp-error.js';

/** next(): the input ran out with no frame finished. */
export const RX_PENDING = 0;
/** next(): a sound frame is in the decoder (type, seq, body, payloadOffset, payloadLength). */
export const RX_FRAME = 1;
/** next(): a frame ended and was dropped; the reason is in error / describeError(). */
export const RX_DROPPED = 2;

/** Counters since construction. Every dropped frame counts once in one error counter and in resyncs. */
export interface FrameDecoderStats {
  /** sound frames delivered */
  frames: number;
  crcErrors: number;
  /** COBS and SHORT errors */
  malformed: number;
  oversize: number;
  versionErrors: number;
  /** frames dropped for any reason: bytes thrown away up to the next delimiter */
  resyncs: number;
}

const EMPTY = new Uint8Array(0);

export class FrameDecoder implements BodyCheck {
  /** Decoded bytes of the frame being received; after RX_FRAME the payload is body[payloadOffset, + payloadLength). */
  readonly body = new Uint8Array(SBP_MAX_BODY);
  readonly payloadOffset = SBP_HEADER_SIZE;
  readonly stats: FrameDecoderStats = { frames: 0, crcErrors: 0, malformed: 0, oversize: 0, versionErrors: 0, resyncs: 0 };
  // Header of the last sound frame (valid after RX_FRAME until the next byte is taken).
  version = 0;
  type = 0;
  seq = 0;
  payloadLength = 0;
  /** Code of the last dropped frame (SBP_OK while none), and its numbers for describeError(). */
  error = SBP_OK;
  errorA = 0;
  errorB = 0;

  private bodyLength = 0;
  private encodedLength = 0;
  private blockLeft = 0;
  private blockCode = 0;
  private discarding = false;
  private input: Uint8Array = EMPTY;
  private inputAt = 0;
  private inputEnd = 0;

  /**
   * Hand over the next run of received bytes, bytes[start, end). Call next() until RX_PENDING before the next
   * feed(): bytes not yet taken are replaced. The decoder keeps a reference, not a copy, until then.
   */
  feed(bytes: Uint8Array, start = 0, end = bytes.length): void {
    this.input = bytes;
    this.inputAt = start;
    this.inputEnd = end;
  }

  /** Bytes of the last feed() not yet taken. */
  get pending(): number {
    return this.inputEnd - this.inputAt;
  }

  /** Take bytes until a frame finishes (RX_FRAME), one is dropped (RX_DROPPED) or the input runs out (RX_PENDING). */
  next(): number {
    const input = this.input;
    const end = this.inputEnd;
    while (this.inputAt < end) {
      const rx = this.pushByte(input[this.inputAt++]);
      if (rx !== RX_PENDING) return rx;
    }
    this.input = EMPTY;
    this.inputAt = 0;
    this.inputEnd = 0;
    return RX_PENDING;
  }

  /** Take one byte (a UART interrupt's view). Exactly what next() does for each byte. */
  pushByte(byte: number): number {
    if (byte === 0) return this.endOfFrame();
    if (this.discarding) return RX_PENDING;
    if (this.encodedLength === 0) {
      this.error = SBP_OK; // a new frame starts: forget why the previous one was dropped
    }
    if (this.encodedLength >= SBP_MAX_ENCODED) return this.overflow(this.encodedLength + 1, 0);
    this.encodedLength++;
    if (this.blockLeft === 0) {
      // A code byte. The block before it, unless it was a full 0xFF block, ended in an implied 0x00 that is
      // real only now that more data follows.
      if (this.blockCode !== 0 && this.blockCode !== 0xff) {
        if (this.bodyLength >= SBP_MAX_BODY) return this.overflow(this.encodedLength, 1);
        this.body[this.bodyLength++] = 0;
      }
      this.blockCode = byte;
      this.blockLeft = byte - 1;
      return RX_PENDING;
    }
    if (this.bodyLength >= SBP_MAX_BODY) return this.overflow(this.encodedLength, 1);
    this.body[this.bodyLength++] = byte;
    this.blockLeft--;
    return RX_PENDING;
  }

  /** Name of the last drop reason as in C and the vectors ("crc", "oversize" ...). */
  get errorName(): SbpCodeName {
    return sbpCodeName(this.error);
  }

  /** The last drop reason with its numbers. Builds a string: call it off the hot path (logs, tests). */
  describeError(): string {
    switch (this.error) {
      case SBP_OK: return 'no error';
      case SBP_ERR_OVERSIZE:
        return this.errorB === 0
          ? `frame longer than the maximum: encoded byte ${this.errorA} before the delimiter, at most ${SBP_MAX_ENCODED}`
          : `frame longer than the maximum: decoded body passes ${SBP_MAX_BODY} bytes at encoded byte ${this.errorA}`;
      case SBP_ERR_COBS: return `COBS block with code 0x${this.errorB.toString(16).padStart(2, '0')} ends ${this.errorA} bytes short at the delimiter`;
      default: return describeBodyError(this.error, this);
    }
  }

  /** Forget the frame in progress and any input not yet taken; counters stay. */
  reset(): void {
    this.startOver();
    this.input = EMPTY;
    this.inputAt = 0;
    this.inputEnd = 0;
  }

  /** byBody 0: the encoded length passed SBP_MAX_ENCODED; 1: the decoded body passed SBP_MAX_BODY. */
  private overflow(encodedLength: number, byBody: number): number {
    this.discarding = true;
    if (this.error === SBP_OK) {
      this.error = SBP_ERR_OVERSIZE;
      this.errorA = encodedLength;
      this.errorB = byBody;
    }
    return RX_PENDING;
  }

  private endOfFrame(): number {
    if (this.encodedLength === 0 && !this.discarding) return RX_PENDING; // 0x00 0x00: empty frame, legal padding
    let code: number;
    if (this.discarding) {
      code = this.error; // recorded by overflow()
    } else if (this.blockLeft !== 0) {
      code = SBP_ERR_COBS;
      this.errorA = this.blockLeft;
      this.errorB = this.blockCode;
    } else {
      code = checkBody(this.body, this.bodyLength, this);
    }
    this.startOver();
    if (code === SBP_OK) {
      this.stats.frames++;
      return RX_FRAME;
    }
    this.error = code;
    const s = this.stats;
    if (code === SBP_ERR_CRC) s.crcErrors++;
    else if (code === SBP_ERR_OVERSIZE) s.oversize++;
    else if (code === SBP_ERR_VERSION) s.versionErrors++;
    else s.malformed++;
    s.resyncs++;
    return RX_DROPPED;
  }

  private startOver(): void {
    this.bodyLength = 0;
    this.encodedLength = 0;
    this.blockLeft = 0;
    this.blockCode = 0;
    this.discarding = false;
  }
}

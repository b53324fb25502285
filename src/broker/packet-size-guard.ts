// Sits between a client's socket and aedes and reads only MQTT fixed headers: a packet that announces more bytes
// than allowed closes the connection before any of its body is buffered. aedes' parser (mqtt-packet) has no size
// limit and would otherwise collect a 250 MiB "CONNECT" from an unauthenticated client in memory.
import { Duplex } from 'node:stream';
import { PRE_AUTH_MAX_PACKET_BYTES } from './limits.js';

/** Where the scanner is inside the byte stream: the fixed header byte, the remaining length, or a body. */
const enum Scan { Header, Length, Body }

export class PacketSizeGuard extends Duplex {
  private limit = PRE_AUTH_MAX_PACKET_BYTES;
  private scan = Scan.Header;
  private length = 0;
  private lengthMultiplier = 1;
  private lengthBytes = 0;
  private bodyLeft = 0;

  /**
   * @param onRefused called once, with the remaining length the packet announced (NaN for a malformed length),
   *   just before the connection is closed.
   */
  constructor(
    private readonly inner: Duplex,
    private readonly maxPacketBytes: number,
    private readonly onRefused: (announcedBytes: number, limit: number) => void,
  ) {
    super({ allowHalfOpen: false });
    inner.on('data', (chunk: Buffer) => {
      if (!this.admit(chunk)) return;
      if (!this.push(chunk)) inner.pause();
    });
    inner.once('end', () => this.push(null));
    inner.once('error', (err) => this.destroy(err));
    inner.once('close', () => this.destroy());
  }

  /** The client logged in: from now on packets up to maxPacketBytes pass. */
  authenticated(): void {
    this.limit = this.maxPacketBytes;
  }

  /** Scan the chunk's headers; false (and the connection closed) when one announces too much. */
  private admit(chunk: Buffer): boolean {
    let i = 0;
    while (i < chunk.length) {
      if (this.scan === Scan.Body) {
        const skip = Math.min(this.bodyLeft, chunk.length - i);
        this.bodyLeft -= skip;
        i += skip;
        if (this.bodyLeft === 0) this.scan = Scan.Header;
        continue;
      }
      const byte = chunk[i++];
      if (this.scan === Scan.Header) {
        this.scan = Scan.Length;
        this.length = 0;
        this.lengthMultiplier = 1;
        this.lengthBytes = 0;
        continue;
      }
      // Remaining length: 1–4 bytes, 7 bits each, least significant first (MQTT 3.1.1 §2.2.3).
      this.length += (byte & 0x7f) * this.lengthMultiplier;
      this.lengthMultiplier *= 128;
      this.lengthBytes++;
      const more = (byte & 0x80) !== 0;
      if (this.length > this.limit || (more && this.lengthBytes === 4)) {
        this.refuse(more ? Number.NaN : this.length);
        return false;
      }
      if (more) continue;
      this.bodyLeft = this.length;
      this.scan = this.bodyLeft > 0 ? Scan.Body : Scan.Header;
    }
    return true;
  }

  private refuse(announcedBytes: number): void {
    this.onRefused(announcedBytes, this.limit);
    this.destroy();
  }

  override _read(): void {
    this.inner.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.inner.write(chunk, callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.inner.end(callback);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.inner.destroy();
    callback(err);
  }
}

// The on-disk form of one spooled chunk, and the names spool files carry. Pure: no I/O.
//
//   offset 0  "STRK"                magic
//          4  u32 LE  format (1)
//          8  u32 LE  payload length
//         12  u32 LE  CRC-32C of the payload
//         16  payload                the chunk exactly as published (MessagePack)
//
// A file is trusted only when the magic, format, length (against the file size) and CRC all hold: anything
// else is a torn or damaged file and is quarantined, never published.
import { crc32c } from '../transports/serial/crc32c.js';

export const SPOOL_MAGIC = 0x4b525453; // "STRK" read as u32 LE
export const SPOOL_FORMAT = 1;
export const SPOOL_HEADER_BYTES = 16;

/** The 16-byte head of a spool file for this payload (written before it, so the payload is never copied). */
export function spoolFileHead(payload: Uint8Array): Buffer {
  const head = Buffer.allocUnsafe(SPOOL_HEADER_BYTES);
  head.writeUInt32LE(SPOOL_MAGIC, 0);
  head.writeUInt32LE(SPOOL_FORMAT, 4);
  head.writeUInt32LE(payload.byteLength, 8);
  head.writeUInt32LE(crc32c(payload), 12);
  return head;
}

export function frameSpoolFile(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(SPOOL_HEADER_BYTES + payload.byteLength);
  out.writeUInt32LE(SPOOL_MAGIC, 0);
  out.writeUInt32LE(SPOOL_FORMAT, 4);
  out.writeUInt32LE(payload.byteLength, 8);
  out.writeUInt32LE(crc32c(payload), 12);
  out.set(payload, SPOOL_HEADER_BYTES);
  return out;
}

/** Checks a file's 16-byte head against its size; returns the problem, or null when it may be whole. */
export function checkSpoolHead(head: Uint8Array, fileBytes: number): string | null {
  if (head.byteLength < SPOOL_HEADER_BYTES || fileBytes < SPOOL_HEADER_BYTES) return `file of ${fileBytes} bytes is shorter than the ${SPOOL_HEADER_BYTES}-byte head`;
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (b.readUInt32LE(0) !== SPOOL_MAGIC) return 'bad magic';
  if (b.readUInt32LE(4) !== SPOOL_FORMAT) return `unknown spool format ${b.readUInt32LE(4)}`;
  const len = b.readUInt32LE(8);
  if (len + SPOOL_HEADER_BYTES !== fileBytes) return `head says ${len} payload bytes, file holds ${fileBytes - SPOOL_HEADER_BYTES}`;
  return null;
}

/** The payload of a whole file, or the reason it is not whole. */
export function unframeSpoolFile(file: Uint8Array): { ok: true; payload: Uint8Array } | { ok: false; error: string } {
  const problem = checkSpoolHead(file.subarray(0, SPOOL_HEADER_BYTES), file.byteLength);
  if (problem !== null) return { ok: false, error: problem };
  const payload = file.subarray(SPOOL_HEADER_BYTES);
  const want = Buffer.from(file.buffer, file.byteOffset, SPOOL_HEADER_BYTES).readUInt32LE(12);
  const got = crc32c(payload);
  if (got !== want) return { ok: false, error: `CRC-32C ${got.toString(16)} differs from the head's ${want.toString(16)}` };
  return { ok: true, payload };
}

/** Identity of a spooled chunk, read back from its file name. */
export interface SpoolName {
  readonly seq: number;
  readonly episode: string;
  readonly chunk: number;
  readonly final: boolean;
}

// <seq, 12 digits>_<run id>_<episode index>_<chunk>[_final].chunk  — the run id has no "_" (it is a UUID).
const NAME = /^([0-9]{12})_([A-Za-z0-9-]{1,64})_([0-9]{1,12})_([0-9]{1,10})(_final)?\.chunk$/;

export function spoolFileName(n: SpoolName): string {
  const colon = n.episode.indexOf(':');
  return `${String(n.seq).padStart(12, '0')}_${n.episode.slice(0, colon)}_${n.episode.slice(colon + 1)}_${n.chunk}${n.final ? '_final' : ''}.chunk`;
}

export function parseSpoolFileName(name: string): SpoolName | null {
  const m = NAME.exec(name);
  if (m === null) return null;
  return { seq: Number(m[1]), episode: `${m[2]}:${m[3]}`, chunk: Number(m[4]), final: m[5] !== undefined };
}

/** Marker of an episode that has chunks on disk but no final chunk yet. */
export function openMarkerName(episode: string): string {
  const colon = episode.indexOf(':');
  return `open_${episode.slice(0, colon)}_${episode.slice(colon + 1)}.json`;
}

export function isOpenMarkerName(name: string): boolean {
  return /^open_[A-Za-z0-9-]{1,64}_[0-9]{1,12}\.json$/.test(name);
}

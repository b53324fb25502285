// The on-disk forms of spooled chunks, and the names spool files carry. Pure: no I/O.
//
// Segment files (format 2, written today): <segment, 12 digits>.seg, chunks appended one record after another,
// one write and one fdatasync per batch of chunks. A record:
//
//   offset 0  "STRS"                magic
//          4  u16 LE  format (2)
//          6  u16 LE  E, the episode id's length in bytes
//          8  u32 LE  P, the payload's length
//         12  u32 LE  chunk number
//         16  u32 LE  flags (bit 0: final chunk)
//         20  u32 LE  CRC-32 (zlib's) of bytes 0..20, the episode id and the payload
//         24  the episode id (UTF-8, "<run>:<index>")
//     24 + E  payload                the chunk exactly as published (MessagePack)
//
// A record is trusted only when its magic, format, lengths (within the file) and CRC all hold. Records are read
// in order; the first one that does not hold ends the segment (a torn tail: a crash mid-append), and the rest of
// the file is quarantined, never published.
//
// Chunk files (format 1, read for spools written by earlier versions, never written now): one chunk per file,
// <seq>_<run>_<index>_<chunk>[_final].chunk:
//
//   offset 0  "STRK"                magic
//          4  u32 LE  format (1)
//          8  u32 LE  payload length
//         12  u32 LE  CRC-32C of the payload
//         16  payload
//
// A file is trusted only when the magic, format, length (against the file size) and CRC all hold: anything
// else is a torn or damaged file and is quarantined, never published.
import { crc32 } from 'node:zlib';
import { crc32c } from '../transports/serial/crc32c.js';

export const SPOOL_MAGIC = 0x4b525453; // "STRK" read as u32 LE
export const SPOOL_FORMAT = 1;
export const SPOOL_HEADER_BYTES = 16;

/** A whole format-1 chunk file for this payload (spools of earlier versions; tests write them). */
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

export const SEGMENT_MAGIC = 0x53525453; // "STRS" read as u32 LE
export const SEGMENT_FORMAT = 2;
export const RECORD_HEAD_BYTES = 24;
const FLAG_FINAL = 1;

/** What a segment record says about its chunk (its payload aside). */
export interface RecordMeta {
  readonly episode: string;
  readonly chunk: number;
  readonly final: boolean;
}

/** The head and episode id of a record for this payload (written before it with writev, so it is never copied). */
export function segmentRecordHead(meta: RecordMeta, payload: Uint8Array): Buffer {
  const episode = Buffer.from(meta.episode, 'utf8');
  const head = Buffer.allocUnsafe(RECORD_HEAD_BYTES + episode.byteLength);
  head.writeUInt32LE(SEGMENT_MAGIC, 0);
  head.writeUInt16LE(SEGMENT_FORMAT, 4);
  head.writeUInt16LE(episode.byteLength, 6);
  head.writeUInt32LE(payload.byteLength, 8);
  head.writeUInt32LE(meta.chunk, 12);
  head.writeUInt32LE(meta.final ? FLAG_FINAL : 0, 16);
  episode.copy(head, RECORD_HEAD_BYTES);
  head.writeUInt32LE(crc32(payload, crc32(head.subarray(RECORD_HEAD_BYTES), crc32(head.subarray(0, 20)))), 20);
  return head;
}

/** One whole record of a segment, as found by parseSegment. */
export interface SegmentRecord extends RecordMeta {
  /** Where the record starts in its segment, and its length (head, episode id and payload). */
  readonly offset: number;
  readonly length: number;
}

/** A record whose head holds (so its length is known) but whose CRC does not: damaged in place. */
export interface DamagedRecord { readonly offset: number; readonly length: number; readonly problem: string }

/**
 * The records of a segment file's bytes, in order. A record whose head holds but whose bytes fail the CRC is
 * listed in `damaged` and skipped by its length; reading stops at the first record whose head does not hold (a
 * torn tail: a crash mid-append). `end` is where the whole records stop (the file's length when nothing is torn),
 * `problem` why reading stopped before it.
 */
export function parseSegment(file: Uint8Array): { records: SegmentRecord[]; damaged: DamagedRecord[]; end: number; problem: string | null } {
  const b = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const records: SegmentRecord[] = [];
  const damaged: DamagedRecord[] = [];
  let off = 0;
  while (off < b.byteLength) {
    const r = checkRecord(b, off);
    if (typeof r !== 'string') {
      records.push(r);
      off += r.length;
      continue;
    }
    const length = saneLength(b, off);
    if (length === null) return { records, damaged, end: off, problem: `record at byte ${off}: ${r}` };
    damaged.push({ offset: off, length, problem: r });
    off += length;
  }
  return { records, damaged, end: off, problem: null };
}

/** The length a record's head claims, when its magic and format hold and it fits in the bytes; else null. */
function saneLength(b: Buffer, off: number): number | null {
  if (b.byteLength - off < RECORD_HEAD_BYTES || b.readUInt32LE(off) !== SEGMENT_MAGIC || b.readUInt16LE(off + 4) !== SEGMENT_FORMAT) return null;
  const length = RECORD_HEAD_BYTES + b.readUInt16LE(off + 6) + b.readUInt32LE(off + 8);
  return off + length <= b.byteLength ? length : null;
}

/** The payload of a record read back on its own, or the reason it is not whole. */
export function unframeRecord(bytes: Uint8Array): { ok: true; meta: SegmentRecord; payload: Uint8Array } | { ok: false; error: string } {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = checkRecord(b, 0);
  if (typeof r === 'string') return { ok: false, error: r };
  return { ok: true, meta: r, payload: bytes.subarray(r.length - b.readUInt32LE(8), r.length) };
}

function checkRecord(b: Buffer, off: number): SegmentRecord | string {
  if (b.byteLength - off < RECORD_HEAD_BYTES) return `${b.byteLength - off} bytes are shorter than a record's ${RECORD_HEAD_BYTES}-byte head`;
  if (b.readUInt32LE(off) !== SEGMENT_MAGIC) return 'bad magic';
  if (b.readUInt16LE(off + 4) !== SEGMENT_FORMAT) return `unknown record format ${b.readUInt16LE(off + 4)}`;
  const e = b.readUInt16LE(off + 6);
  const p = b.readUInt32LE(off + 8);
  const length = RECORD_HEAD_BYTES + e + p;
  if (off + length > b.byteLength) return `head says ${length} bytes, ${b.byteLength - off} are left`;
  const want = b.readUInt32LE(off + 20);
  const got = crc32(b.subarray(off + RECORD_HEAD_BYTES + e, off + length), crc32(b.subarray(off + RECORD_HEAD_BYTES, off + RECORD_HEAD_BYTES + e), crc32(b.subarray(off, off + 20))));
  if (got !== want) return `CRC-32 ${got.toString(16)} differs from the head's ${want.toString(16)}`;
  return {
    offset: off, length, chunk: b.readUInt32LE(off + 12), final: (b.readUInt32LE(off + 16) & FLAG_FINAL) !== 0,
    episode: b.toString('utf8', off + RECORD_HEAD_BYTES, off + RECORD_HEAD_BYTES + e),
  };
}

const SEGMENT_NAME = /^([0-9]{12})\.seg$/;

export function segmentFileName(segment: number): string {
  return `${String(segment).padStart(12, '0')}.seg`;
}

/** The segment number of a segment file's name, or null. */
export function parseSegmentFileName(name: string): number | null {
  const m = SEGMENT_NAME.exec(name);
  return m === null ? null : Number(m[1]);
}

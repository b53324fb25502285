// The durable spool directory. Chunks are appended to segment files, a whole batch with one write and one
// fdatasync (and, for a new segment, one directory fsync), so a chunk is on disk before it is published at the
// cost of one journal commit per batch rather than the four file-system operations per chunk of a file each.
// Synchronous on purpose: it runs in the spool worker thread, whose only job is this, and never on the control
// loop's thread or libuv's shared thread pool.
//
// Layout of <dir> (record and file formats: spool-file.ts):
//   <segment>.seg                              segments of chunk records, published oldest first; a segment is
//                                              deleted once the updater has acknowledged every chunk in it
//   <seq>_<run>_<index>_<chunk>[_final].chunk  chunks spooled one per file by earlier versions: read, published
//                                              and deleted like records, never written
//   open_<run>_<index>.json                    an episode with chunks spooled but no final chunk yet
//   quarantine/                                torn, damaged, unreadable or rejected chunks, kept for inspection
//
// Recovery on open: a segment's records are read in order up to the first that does not hold (a crash
// mid-append); the rest of the file goes to quarantine/ and the segment is cut there. *.tmp files and format-1
// files whose head does not match their size are quarantined. An open marker left by a process that died
// mid-episode becomes a zero-step final chunk with outcome "aborted", numbered after every chunk of that
// episode still on disk or recorded in the marker. Markers are brought up to date before any chunk of their
// episode leaves the disk (acknowledged or quarantined), so that number is always past every chunk spooled.
import {
  closeSync, existsSync, fdatasyncSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, readdirSync,
  renameSync, statSync, unlinkSync, writeFileSync, writeSync, writevSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  ROLLOUT_VERSION, encodeRolloutChunk, REWARD_COMPONENTS, type RewardComponent, type RolloutColumns,
  type RolloutCompression, type RolloutHeaderInput,
} from '../contracts/rollout.js';
import {
  SPOOL_HEADER_BYTES, checkSpoolHead, isOpenMarkerName, openMarkerName, parseSegment, parseSegmentFileName,
  parseSpoolFileName, segmentFileName, segmentRecordHead, unframeRecord, unframeSpoolFile,
} from './spool-file.js';

export interface SpoolEntry {
  /** The segment holding the chunk (or, from an earlier version's spool, the chunk's own file). */
  readonly file: string;
  /** Where the chunk's record starts in its segment; null for a chunk file of its own. */
  readonly offset: number | null;
  readonly seq: number;
  readonly episode: string;
  readonly chunk: number;
  readonly final: boolean;
  /** Its bytes on disk (record head and payload). */
  readonly bytes: number;
}

export interface Quarantined { readonly file: string; readonly reason: string }

export interface SpoolScan {
  /** Live chunks, oldest first. */
  readonly entries: SpoolEntry[];
  readonly usedBytes: number;
  readonly quarantined: Quarantined[];
  /** Final chunks written for episodes a previous process left open. */
  readonly tombstones: number;
}

export type MarkerBase = Pick<RolloutHeaderInput, 'v' | 'robot' | 'episode' | 'policy_version' | 'task' | 'instruction' | 'stamp_origin_unix_ms' | 'layout'>;
interface OpenMarker { episode: string; next_chunk: number; base: MarkerBase }

/** A chunk to spool: its header (for its identity and its episode's marker) and its encoded bytes. */
export interface ChunkToSpool { readonly header: RolloutHeaderInput; readonly payload: Uint8Array }

export const QUARANTINE_DIR = 'quarantine';
/** A segment takes new batches until it holds this many bytes or records; then the next batch starts a new one. */
const SEGMENT_ROLL_BYTES = 4 << 20;
export const SEGMENT_ROLL_RECORDS = 64;

/** A file holding spooled chunks: a segment, or one chunk file of an earlier version. */
interface SpoolFile {
  readonly name: string;
  /** Offsets of the records not yet acknowledged (0 for a chunk file). */
  readonly live: Set<number>;
  records: number;
  size: number;
  /** Open for appending while this is the segment new batches go to. */
  fd: number | null;
  /** Per episode with non-final chunks here: one past the highest of them. */
  readonly reaches: Map<string, number>;
}

export class SpoolDir {
  private seq = 0;
  private nextSegment = 0;
  private active: SpoolFile | null = null;
  private readonly files = new Map<string, SpoolFile>();
  /** Next chunk number per open episode, never lowered (a marker must not regress). */
  private readonly nextChunk = new Map<string, number>();
  /** What each open episode's marker says besides next_chunk (from markOpen, or from its first chunk). */
  private readonly markerBases = new Map<string, MarkerBase>();
  /** next_chunk as each open episode's marker has it on disk. */
  private readonly markerOnDisk = new Map<string, number>();

  /**
   * capacityBytes: the size of the file system under the spool, for tests (a full disk, deterministically): a chunk
   * write that would take the directory's files past it fails with ENOSPC, as a full disk does. null: no such limit.
   */
  constructor(readonly dir: string, readonly compression: RolloutCompression, private readonly capacityBytes: number | null = null) {}

  open(): SpoolScan {
    mkdirSync(join(this.dir, QUARANTINE_DIR), { recursive: true });
    const legacy: SpoolEntry[] = [];
    const segments: number[] = [];
    const quarantined: Quarantined[] = [];
    const markers: string[] = [];
    const q = (file: string, reason: string) => { this.quarantineFile(file, reason); quarantined.push({ file, reason }); };
    for (const d of readdirSync(this.dir, { withFileTypes: true })) {
      if (!d.isFile()) continue;
      const name = d.name;
      if (name.endsWith('.tmp')) { q(name, 'partial-write'); continue; }
      if (isOpenMarkerName(name)) { markers.push(name); continue; }
      const segment = parseSegmentFileName(name);
      if (segment !== null) { segments.push(segment); continue; }
      const parsed = parseSpoolFileName(name);
      if (parsed === null) { q(name, 'unknown-name'); continue; }
      const size = statSync(join(this.dir, name)).size;
      const problem = checkSpoolHead(this.readHead(name), size);
      if (problem !== null) { q(name, 'torn'); continue; }
      legacy.push({ file: name, offset: null, seq: parsed.seq, episode: parsed.episode, chunk: parsed.chunk, final: parsed.final, bytes: size });
    }
    // Chunk files are older than any segment (an earlier version wrote them); then segments in order.
    legacy.sort((a, b) => a.seq - b.seq);
    const entries: SpoolEntry[] = [];
    for (const e of legacy) {
      entries.push({ ...e, seq: this.seq++ });
      this.files.set(e.file, { name: e.file, live: new Set([0]), records: 1, size: e.bytes, fd: null, reaches: reachesOf([e]) });
    }
    segments.sort((a, b) => a - b);
    for (const segment of segments) {
      const name = segmentFileName(segment);
      this.nextSegment = segment + 1;
      const bytes = readFileSync(join(this.dir, name));
      const { records, damaged, end, problem } = parseSegment(bytes);
      // Damaged records (their CRC fails) are copied aside and never published; a torn tail (a crash
      // mid-append) is copied aside and the segment cut there.
      for (const d of damaged) {
        writeFileSync(join(this.dir, QUARANTINE_DIR, `${Date.now()}_corrupt_${name}_${d.offset}`), bytes.subarray(d.offset, d.offset + d.length));
        quarantined.push({ file: `${name}@${d.offset}`, reason: 'corrupt' });
      }
      if (problem !== null) {
        if (end === 0) { q(name, 'torn'); continue; }
        writeFileSync(join(this.dir, QUARANTINE_DIR, `${Date.now()}_torn-tail_${name}_${end}`), bytes.subarray(end));
        ftruncateFile(join(this.dir, name), end);
        quarantined.push({ file: `${name}@${end}`, reason: 'torn-tail' });
      }
      if (records.length === 0) { unlinkSync(join(this.dir, name)); continue; }
      const mine = records.map((r) => ({ file: name, offset: r.offset, seq: this.seq++, episode: r.episode, chunk: r.chunk, final: r.final, bytes: r.length }));
      entries.push(...mine);
      this.files.set(name, { name, live: new Set(records.map((r) => r.offset)), records: records.length, size: end, fd: null, reaches: reachesOf(mine) });
    }
    let tombstones = 0;
    for (const name of markers) {
      let marker: OpenMarker;
      try {
        marker = JSON.parse(readFileSync(join(this.dir, name), 'utf8')) as OpenMarker;
        if (typeof marker.episode !== 'string' || !Number.isInteger(marker.next_chunk) || marker.base?.v !== ROLLOUT_VERSION) throw new Error('bad marker');
      } catch {
        q(name, 'bad-marker');
        continue;
      }
      const mine = entries.filter((e) => e.episode === marker.episode);
      if (mine.some((e) => e.final)) { unlinkSync(join(this.dir, name)); continue; }
      let next = marker.next_chunk;
      for (const e of mine) if (e.chunk + 1 > next) next = e.chunk + 1;
      this.nextChunk.set(marker.episode, next);
      this.markerBases.set(marker.episode, marker.base);
      this.markerOnDisk.set(marker.episode, marker.next_chunk);
      entries.push(this.writeTombstone(marker.base, next));
      tombstones++;
    }
    let usedBytes = 0;
    for (const e of entries) usedBytes += e.bytes;
    return { entries, usedBytes, quarantined, tombstones };
  }

  /**
   * An episode began: its open marker is written now, before any chunk, so a process killed before the first
   * chunk still leaves a record that the next start closes as aborted. Rename, no fsync: kill -9 cannot lose it.
   */
  markOpen(base: MarkerBase): void {
    if (this.nextChunk.has(base.episode) || existsSync(join(this.dir, openMarkerName(base.episode)))) return;
    this.nextChunk.set(base.episode, 0);
    this.markerBases.set(base.episode, base);
    try {
      this.writeMarker(base.episode, 0);
    } catch (err) {
      this.nextChunk.delete(base.episode);
      this.markerBases.delete(base.episode);
      throw err;
    }
  }

  /** Spool one encoded chunk durably (writeBatch of one). */
  write(header: RolloutHeaderInput, payload: Uint8Array): SpoolEntry {
    return this.writeBatch([{ header, payload }])[0];
  }

  /**
   * Spool encoded chunks durably, in order: appended to the current segment with one write, then one fdatasync
   * (and a directory fsync when the segment is new). All or nothing: when the write or the sync fails, the segment
   * is cut back to where it was and the error thrown; nothing of the batch counts as spooled. A final chunk
   * removes its episode's open marker once it is on disk.
   */
  writeBatch(chunks: readonly ChunkToSpool[]): SpoolEntry[] {
    const heads = chunks.map(({ header, payload }) => segmentRecordHead(header, payload));
    let total = 0;
    for (let i = 0; i < chunks.length; i++) total += heads[i].byteLength + chunks[i].payload.byteLength;
    if (this.capacityBytes !== null && this.bytesInDir() + total > this.capacityBytes) {
      throw Object.assign(new Error(`ENOSPC: no space left on device, write '${this.active?.name ?? segmentFileName(this.nextSegment)}'`), { code: 'ENOSPC' });
    }
    const a = this.active;
    if (a !== null && (a.size >= SEGMENT_ROLL_BYTES || a.records >= SEGMENT_ROLL_RECORDS)) this.retireActive();
    const created = this.active === null;
    const seg = this.active ?? this.createSegment();
    const fd = seg.fd as number;
    const parts: Uint8Array[] = [];
    for (let i = 0; i < chunks.length; i++) parts.push(heads[i], chunks[i].payload);
    try {
      writeAllAt(fd, parts, seg.size);
      fdatasyncSync(fd);
      if (created) this.fsyncDir();
    } catch (err) {
      if (created) {
        this.closeActive();
        this.files.delete(seg.name);
        this.unlinkQuietly(seg.name);
      } else {
        try { ftruncateSync(fd, seg.size); } catch { /* the records past seg.size fail their checks on reopen */ }
      }
      throw err;
    }
    const entries: SpoolEntry[] = [];
    let offset = seg.size;
    for (let i = 0; i < chunks.length; i++) {
      const h = chunks[i].header;
      const bytes = heads[i].byteLength + chunks[i].payload.byteLength;
      entries.push({ file: seg.name, offset, seq: this.seq++, episode: h.episode, chunk: h.chunk, final: h.final, bytes });
      seg.live.add(offset);
      offset += bytes;
      if (!h.final) {
        seg.reaches.set(h.episode, Math.max(seg.reaches.get(h.episode) ?? 0, h.chunk + 1));
        this.nextChunk.set(h.episode, Math.max(this.nextChunk.get(h.episode) ?? 0, h.chunk + 1));
        if (!this.markerBases.has(h.episode)) this.markerBases.set(h.episode, markerBaseOf(h));
      } else {
        this.nextChunk.delete(h.episode);
        this.markerBases.delete(h.episode);
        this.markerOnDisk.delete(h.episode);
        this.unlinkQuietly(openMarkerName(h.episode));
      }
    }
    seg.size = offset;
    seg.records += chunks.length;
    // An episode whose beginning was not marked (markOpen is best effort) gets its marker with its first chunk.
    for (const e of entries) {
      if (e.final || !this.nextChunk.has(e.episode) || this.markerOnDisk.has(e.episode)) continue;
      try { this.writeMarker(e.episode, this.nextChunk.get(e.episode) as number); } catch { /* tried again with its next chunk */ }
    }
    return entries;
  }

  /** The chunk bytes of a spooled chunk, checked; null when it is gone or damaged (a damaged one is quarantined). */
  read(entry: SpoolEntry): Uint8Array | null {
    let raw: Buffer;
    try {
      raw = entry.offset === null ? readFileSync(join(this.dir, entry.file)) : this.readRecord(entry);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    let payload: Uint8Array | null = null;
    if (entry.offset === null) {
      const r = unframeSpoolFile(raw);
      if (r.ok) payload = r.payload;
    } else {
      const r = unframeRecord(raw);
      if (r.ok && r.meta.episode === entry.episode && r.meta.chunk === entry.chunk) payload = r.payload;
    }
    if (payload === null) {
      this.quarantine(entry, 'corrupt');
      return null;
    }
    return new Uint8Array(payload); // own buffer, so it can be transferred
  }

  /**
   * The updater has the chunk: it no longer counts. Returns the file to delete when that was its file's last
   * live chunk (the caller deletes it, off this thread if it likes), else null. Markers of episodes with chunks
   * in that file are brought up to date first.
   */
  release(entry: SpoolEntry): string | null {
    return this.drop(entry).file;
  }

  /** release() and delete at once; false when the chunk was not live. Not fsynced: a delete lost to a power cut means one harmless resend. */
  remove(entry: SpoolEntry): boolean {
    const { live, file } = this.drop(entry);
    if (file !== null) this.unlinkQuietly(file);
    return live;
  }

  private drop(entry: SpoolEntry): { live: boolean; file: string | null } {
    const f = this.files.get(entry.file);
    if (f === undefined || !f.live.delete(entry.offset ?? 0)) return { live: false, file: null };
    if (f.live.size > 0) return { live: true, file: null };
    if (f === this.active) this.closeActive();
    this.files.delete(f.name);
    try {
      this.advanceMarkers(f);
    } catch {
      // A marker that cannot be brought up to date (a failing disk) must not fall behind chunks that leave the disk:
      // the file stays until the next start, which sends its chunks again (acked "duplicate") and deletes it then.
      return { live: true, file: null };
    }
    return { live: true, file: f.name };
  }

  /** Move a chunk aside; it is never published. The reason is kept in the new name. */
  quarantine(entry: SpoolEntry, reason: string): void {
    const safe = reason.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 40);
    if (entry.offset === null) {
      const f = this.files.get(entry.file);
      if (f !== undefined) { this.files.delete(entry.file); this.advanceMarkers(f); }
      this.quarantineFile(entry.file, reason);
      return;
    }
    try {
      writeFileSync(join(this.dir, QUARANTINE_DIR, `${Date.now()}_${safe}_${entry.file}_${entry.offset}`), this.readRecord(entry));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const file = this.release(entry);
    if (file !== null) this.unlinkQuietly(file);
  }

  /** Close the segment being appended to (the worker is stopping). */
  close(): void {
    const a = this.active;
    if (a === null) return;
    this.closeActive();
    if (a.live.size === 0) { this.files.delete(a.name); this.advanceMarkers(a); this.unlinkQuietly(a.name); }
  }

  private writeTombstone(base: MarkerBase, chunk: number): SpoolEntry {
    const header: RolloutHeaderInput = {
      ...base, chunk, stamp: new Date().toISOString(), n: 0, skipped_steps: 0, final: true, outcome: 'aborted',
      end_reason: 'robot process ended mid-episode; closed on restart',
    };
    return this.write(header, encodeRolloutChunk(header, emptyColumns(base.layout.camera !== null), this.compression));
  }

  private createSegment(): SpoolFile {
    const name = segmentFileName(this.nextSegment++);
    const fd = openSync(join(this.dir, name), 'w', 0o644);
    const seg: SpoolFile = { name, live: new Set(), records: 0, size: 0, fd, reaches: new Map() };
    this.files.set(name, seg);
    this.active = seg;
    return seg;
  }

  /** The next batch goes to a new segment; this one is deleted now if nothing in it is still waiting for an ack. */
  private retireActive(): void {
    const a = this.active as SpoolFile;
    this.closeActive();
    if (a.live.size === 0) {
      this.files.delete(a.name);
      this.advanceMarkers(a);
      this.unlinkQuietly(a.name);
    }
  }

  private closeActive(): void {
    const a = this.active;
    this.active = null;
    if (a === null || a.fd === null) return;
    const fd = a.fd;
    a.fd = null;
    try { closeSync(fd); } catch { /* already closed */ }
  }

  /** Before a file's chunks leave the disk: the markers of their still-open episodes must reach past them. */
  private advanceMarkers(f: SpoolFile): void {
    for (const [episode, reach] of f.reaches) {
      const next = this.nextChunk.get(episode);
      if (next === undefined || (this.markerOnDisk.get(episode) ?? -1) >= reach) continue;
      this.writeMarker(episode, Math.max(next, reach));
    }
  }

  /** An episode's open marker, replaced by rename (no fsync: see markOpen). */
  private writeMarker(episode: string, next: number): void {
    const base = this.markerBases.get(episode);
    if (base === undefined) return;
    const name = openMarkerName(episode);
    const tmp = `${name}.tmp`;
    try {
      writeFileSync(join(this.dir, tmp), JSON.stringify({ episode, next_chunk: next, base } satisfies OpenMarker));
      renameSync(join(this.dir, tmp), join(this.dir, name));
    } catch (err) {
      this.unlinkQuietly(tmp);
      throw err;
    }
    this.markerOnDisk.set(episode, next);
  }

  private readRecord(entry: SpoolEntry): Buffer {
    const fd = openSync(join(this.dir, entry.file), 'r');
    try {
      const buf = Buffer.allocUnsafe(entry.bytes);
      let got = 0;
      while (got < entry.bytes) {
        const n = readSync(fd, buf, got, entry.bytes - got, (entry.offset as number) + got);
        if (n === 0) break;
        got += n;
      }
      return buf.subarray(0, got);
    } finally {
      closeSync(fd);
    }
  }

  /** Move a whole file aside (torn, unknown, a rejected chunk file of an earlier version). */
  private quarantineFile(file: string, reason: string): void {
    const safe = reason.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 40);
    try {
      renameSync(join(this.dir, file), join(this.dir, QUARANTINE_DIR, `${Date.now()}_${safe}_${file}`));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  private readHead(name: string): Uint8Array {
    const fd = openSync(join(this.dir, name), 'r');
    try {
      const head = Buffer.alloc(SPOOL_HEADER_BYTES);
      const got = readSync(fd, head, 0, SPOOL_HEADER_BYTES, 0);
      return head.subarray(0, got);
    } finally {
      closeSync(fd);
    }
  }

  private bytesInDir(): number {
    let total = 0;
    for (const d of readdirSync(this.dir, { withFileTypes: true })) if (d.isFile()) total += statSync(join(this.dir, d.name)).size;
    return total;
  }

  private unlinkQuietly(name: string): void {
    try { unlinkSync(join(this.dir, name)); } catch { /* already gone */ }
  }

  private fsyncDir(): void {
    const fd = openSync(this.dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

function reachesOf(entries: readonly SpoolEntry[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const e of entries) if (!e.final) m.set(e.episode, Math.max(m.get(e.episode) ?? 0, e.chunk + 1));
  return m;
}

function markerBaseOf(h: RolloutHeaderInput): MarkerBase {
  return {
    v: h.v, robot: h.robot, episode: h.episode, policy_version: h.policy_version, task: h.task,
    instruction: h.instruction, stamp_origin_unix_ms: h.stamp_origin_unix_ms, layout: h.layout,
  };
}

/** Write every part at `position` onward, whatever the kernel takes per call. */
function writeAllAt(fd: number, parts: readonly Uint8Array[], position: number): void {
  let total = 0;
  for (const p of parts) total += p.byteLength;
  let done = writevSync(fd, parts as Uint8Array[], position);
  if (done === total) return;
  let base = 0;
  for (const p of parts) {
    const end = base + p.byteLength;
    while (done < end) done += writeSync(fd, p, done - base, end - done, position + done);
    base = end;
  }
}

function ftruncateFile(path: string, length: number): void {
  const fd = openSync(path, 'r+');
  try {
    ftruncateSync(fd, length);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function emptyColumns(camera: boolean): RolloutColumns {
  const reward = {} as Record<RewardComponent, Float32Array>;
  for (const k of REWARD_COMPONENTS) reward[k] = new Float32Array(0);
  return {
    observation: new Float32Array(0), action: new Float32Array(0), command: new Float32Array(0), progress: new Float32Array(0),
    reward, flags: new Uint8Array(0), step: new Int32Array(0), stampMs: new Float64Array(0),
    frames: camera ? new Uint8Array(0) : null, frameStep: camera ? new Int32Array(0) : null,
  };
}

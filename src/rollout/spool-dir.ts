// The durable spool directory: chunk files written temp → fsync → rename → fsync dir, so a chunk file either
// is whole under its final name or does not exist. Synchronous on purpose: it runs in the spool worker thread,
// whose only job is this, and never on the control loop's thread or libuv's shared thread pool.
//
// Layout of <dir>:
//   <seq>_<run>_<index>_<chunk>[_final].chunk   spooled chunks, published oldest first, deleted on the updater's ack
//   open_<run>_<index>.json                      an episode with chunks spooled but no final chunk yet
//   quarantine/                                  torn, damaged, unreadable or rejected files, kept for inspection
//
// Recovery on open: *.tmp files (a crash mid-write) and files whose head does not match their size are
// quarantined; an open marker left by a process that died mid-episode becomes a zero-step final chunk with
// outcome "aborted", numbered after every chunk of that episode still on disk or recorded in the marker.
import {
  closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, statSync,
  unlinkSync, writeSync, writevSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  ROLLOUT_VERSION, encodeRolloutChunk, REWARD_COMPONENTS, type RewardComponent, type RolloutColumns,
  type RolloutCompression, type RolloutHeaderInput,
} from '../contracts/rollout.js';
import {
  SPOOL_HEADER_BYTES, checkSpoolHead, isOpenMarkerName, openMarkerName, parseSpoolFileName,
  spoolFileHead, spoolFileName, unframeSpoolFile,
} from './spool-file.js';

export interface SpoolEntry {
  readonly file: string;
  readonly seq: number;
  readonly episode: string;
  readonly chunk: number;
  readonly final: boolean;
  /** Size of the file on disk. */
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

export const QUARANTINE_DIR = 'quarantine';

export class SpoolDir {
  private seq = 0;
  /** Next chunk number per open episode, never lowered (a marker must not regress). */
  private readonly nextChunk = new Map<string, number>();
  /** What each open episode's marker says besides next_chunk (from markOpen, or from its first chunk). */
  private readonly markerBases = new Map<string, MarkerBase>();
  /** Episodes with chunks committed since the last syncDir(): their markers are rewritten there. */
  private readonly markersDue = new Set<string>();

  /**
   * capacityBytes: the size of the file system under the spool, for tests (a full disk, deterministically): a chunk
   * write that would take the directory's files past it fails with ENOSPC, as a full disk does. null: no such limit.
   */
  constructor(readonly dir: string, readonly compression: RolloutCompression, private readonly capacityBytes: number | null = null) {}

  open(): SpoolScan {
    mkdirSync(join(this.dir, QUARANTINE_DIR), { recursive: true });
    const entries: SpoolEntry[] = [];
    const quarantined: Quarantined[] = [];
    const markers: string[] = [];
    const q = (file: string, reason: string) => { this.quarantine(file, reason); quarantined.push({ file, reason }); };
    for (const d of readdirSync(this.dir, { withFileTypes: true })) {
      if (!d.isFile()) continue;
      const name = d.name;
      if (name.endsWith('.tmp')) { q(name, 'partial-write'); continue; }
      if (isOpenMarkerName(name)) { markers.push(name); continue; }
      const parsed = parseSpoolFileName(name);
      if (parsed === null) { q(name, 'unknown-name'); continue; }
      const size = statSync(join(this.dir, name)).size;
      const problem = checkSpoolHead(this.readHead(name), size);
      if (problem !== null) { q(name, 'torn'); continue; }
      entries.push({ file: name, seq: parsed.seq, episode: parsed.episode, chunk: parsed.chunk, final: parsed.final, bytes: size });
      if (parsed.seq >= this.seq) this.seq = parsed.seq + 1;
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
      entries.push(this.writeTombstone(marker.base, next));
      tombstones++;
    }
    entries.sort((a, b) => a.seq - b.seq);
    let usedBytes = 0;
    for (const e of entries) usedBytes += e.bytes;
    return { entries, usedBytes, quarantined, tombstones };
  }

  /**
   * An episode began: its open marker is written now, before any chunk, so a process killed before the first
   * chunk still leaves a record that the next start closes as aborted. Rename, no fsync: kill -9 cannot lose it.
   */
  markOpen(base: MarkerBase): void {
    const name = openMarkerName(base.episode);
    if (this.nextChunk.has(base.episode) || existsSync(join(this.dir, name))) return;
    this.nextChunk.set(base.episode, 0);
    const marker: OpenMarker = { episode: base.episode, next_chunk: 0, base };
    const tmp = `${name}.tmp`;
    try {
      this.writeDurably(tmp, Buffer.from(JSON.stringify(marker)), false);
      renameSync(join(this.dir, tmp), join(this.dir, name));
    } catch (err) {
      this.unlinkQuietly(tmp);
      this.nextChunk.delete(base.episode);
      throw err;
    }
  }

  /** Spool one encoded chunk durably; updates (or, for a final chunk, removes) the episode's open marker. */
  write(header: RolloutHeaderInput, payload: Uint8Array): SpoolEntry {
    const staged = this.stage(header, payload);
    try {
      this.fsyncStaged(staged);
    } catch (err) {
      this.abandon(staged);
      throw err;
    }
    const entry = this.commit(staged);
    this.syncDir();
    return entry;
  }

  /**
   * The first half of write(): the chunk's temporary file, written (its descriptor kept open for the fsync) but not
   * fsynced or renamed. The caller fsyncs it (fsyncStaged, or st.fd on another thread), then commit()s (renames),
   * then syncDir()s before it treats the chunk as spooled; or abandon()s it. The worker stages a whole backlog,
   * fsyncs its files at once and syncs the directory once, so the kernel commits its journal once per batch
   * instead of twice per chunk; the episodes' open markers are rewritten once per batch too, in syncDir().
   */
  stage(header: RolloutHeaderInput, payload: Uint8Array): StagedChunk {
    const entry = { seq: this.seq++, episode: header.episode, chunk: header.chunk, final: header.final };
    const file = spoolFileName(entry);
    const head = spoolFileHead(payload);
    const tmp = `${file}.tmp`;
    if (!header.final) {
      this.markerBases.set(header.episode, {
        v: header.v, robot: header.robot, episode: header.episode, policy_version: header.policy_version, task: header.task,
        instruction: header.instruction, stamp_origin_unix_ms: header.stamp_origin_unix_ms, layout: header.layout,
      });
    }
    let fd: number;
    try {
      fd = this.writeParts(tmp, head, payload);
    } catch (err) {
      this.unlinkQuietly(tmp); // e.g. ENOSPC: do not leave a partial file taking the space
      throw err;
    }
    return { entry, file, tmp, tmpPath: join(this.dir, tmp), fd, bytes: head.byteLength + payload.byteLength, final: header.final, episode: header.episode };
  }

  /** fsync a staged chunk's file (the descriptor stage() kept). */
  fsyncStaged(st: StagedChunk): void {
    if (st.fd === null) return;
    fsyncSync(st.fd);
  }

  /** Rename a staged chunk (its file fsynced) into place. Not durable before syncDir(), which also updates its episode's marker. */
  commit(st: StagedChunk): SpoolEntry {
    this.closeStaged(st);
    renameSync(join(this.dir, st.tmp), join(this.dir, st.file));
    if (!st.final) {
      const next = Math.max(this.nextChunk.get(st.episode) ?? 0, st.entry.chunk + 1);
      this.nextChunk.set(st.episode, next);
      this.markersDue.add(st.episode);
    } else {
      this.nextChunk.delete(st.episode);
      this.markersDue.delete(st.episode);
      this.markerBases.delete(st.episode);
      const markerName = openMarkerName(st.episode);
      if (existsSync(join(this.dir, markerName))) unlinkSync(join(this.dir, markerName));
    }
    return { file: st.file, ...st.entry, bytes: st.bytes };
  }

  /** A staged chunk that will not be committed (its fsync failed): remove its temporary files. */
  abandon(st: StagedChunk): void {
    this.closeStaged(st);
    this.unlinkQuietly(st.tmp);
  }

  private closeStaged(st: StagedChunk): void {
    if (st.fd === null) return;
    const fd = st.fd;
    st.fd = null;
    try { closeSync(fd); } catch { /* already closed */ }
  }

  /** The chunk bytes of a spooled file; null when it is gone or damaged (a damaged file is quarantined). */
  read(file: string): Uint8Array | null {
    let raw: Buffer;
    try {
      raw = readFileSync(join(this.dir, file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const r = unframeSpoolFile(raw);
    if (!r.ok) {
      this.quarantine(file, 'corrupt');
      return null;
    }
    return new Uint8Array(r.payload); // own buffer, so it can be transferred
  }

  /** Delete a chunk the updater acknowledged. Not fsynced: a delete lost to a power cut means one harmless resend. */
  remove(file: string): boolean {
    try {
      unlinkSync(join(this.dir, file));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  /** Move a file aside; it is never published. The reason is kept in the new name. */
  quarantine(file: string, reason: string): void {
    const safe = reason.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 40);
    try {
      renameSync(join(this.dir, file), join(this.dir, QUARANTINE_DIR, `${Date.now()}_${safe}_${file}`));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  private writeTombstone(base: MarkerBase, chunk: number): SpoolEntry {
    const header: RolloutHeaderInput = {
      ...base, chunk, stamp: new Date().toISOString(), n: 0, skipped_steps: 0, final: true, outcome: 'aborted',
      end_reason: 'robot process ended mid-episode; closed on restart',
    };
    return this.write(header, encodeRolloutChunk(header, emptyColumns(base.layout.camera !== null), this.compression));
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

  private writeDurably(name: string, data: Uint8Array, sync = true): void {
    if (this.capacityBytes !== null && this.bytesInDir() + data.byteLength > this.capacityBytes) {
      throw Object.assign(new Error(`ENOSPC: no space left on device, write '${name}'`), { code: 'ENOSPC' });
    }
    const fd = openSync(join(this.dir, name), 'w', 0o644);
    try {
      let off = 0;
      while (off < data.byteLength) off += writeSync(fd, data, off, data.byteLength - off);
      if (sync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** A new file holding head then body (no copy into one buffer); returns its descriptor, still open. */
  private writeParts(name: string, head: Uint8Array, body: Uint8Array): number {
    if (this.capacityBytes !== null && this.bytesInDir() + head.byteLength + body.byteLength > this.capacityBytes) {
      throw Object.assign(new Error(`ENOSPC: no space left on device, write '${name}'`), { code: 'ENOSPC' });
    }
    const fd = openSync(join(this.dir, name), 'w', 0o644);
    try {
      const total = head.byteLength + body.byteLength;
      let off = writevSync(fd, [head, body]);
      while (off < total) {
        off += off < head.byteLength
          ? writeSync(fd, head, off, head.byteLength - off)
          : writeSync(fd, body, off - head.byteLength, total - off);
      }
      return fd;
    } catch (err) {
      closeSync(fd);
      throw err;
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

  /**
   * Make every rename so far durable (one directory fsync), after bringing the open markers of the episodes
   * committed since the last call up to date: one marker rewrite per episode per batch, not per chunk. A marker
   * is renamed, not fsynced: the directory fsync makes the rename durable, and ext4 (auto_da_alloc) flushes a
   * file's data before a rename that replaces another commits. A marker only decides how an episode cut short is
   * closed, and recovery numbers that closing chunk after every chunk still on disk as well, so a marker that is
   * behind the files (a crash before this call) is corrected; kill -9 cannot lose one, and a power cut at worst
   * leaves that episode without its closing chunk (its steps are all kept).
   */
  syncDir(): void {
    for (const episode of this.markersDue) {
      const base = this.markerBases.get(episode);
      const next = this.nextChunk.get(episode);
      if (base === undefined || next === undefined) continue;
      const name = openMarkerName(episode);
      const tmp = `${name}.tmp`;
      try {
        this.writeDurably(tmp, Buffer.from(JSON.stringify({ episode, next_chunk: next, base } satisfies OpenMarker)), false);
        renameSync(join(this.dir, tmp), join(this.dir, name));
      } catch (err) {
        this.unlinkQuietly(tmp);
        throw err;
      }
    }
    this.markersDue.clear();
    this.fsyncDir();
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

export function emptyColumns(camera: boolean): RolloutColumns {
  const reward = {} as Record<RewardComponent, Float32Array>;
  for (const k of REWARD_COMPONENTS) reward[k] = new Float32Array(0);
  return {
    observation: new Float32Array(0), action: new Float32Array(0), command: new Float32Array(0), progress: new Float32Array(0),
    reward, flags: new Uint8Array(0), step: new Int32Array(0), stampMs: new Float64Array(0),
    frames: camera ? new Uint8Array(0) : null, frameStep: camera ? new Int32Array(0) : null,
  };
}

/** A chunk written to its temporary file, not yet fsynced or renamed (SpoolDir.stage). */
export interface StagedChunk {
  readonly entry: { seq: number; episode: string; chunk: number; final: boolean };
  readonly file: string;
  readonly tmp: string;
  readonly tmpPath: string;
  /** The temporary file, still open for its fsync; null once commit() or abandon() closed it. */
  fd: number | null;
  readonly bytes: number;
  readonly final: boolean;
  readonly episode: string;
}

export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

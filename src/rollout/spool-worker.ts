// The spool worker thread: encodes cut chunks (MessagePack, optional gzip), writes them durably and answers
// reads, deletes and quarantines. All disk work happens here, so neither the control tick nor libuv's shared
// thread pool (which serialport also uses) ever waits on a slow fsync. Messages are handled one at a time, in
// order, except that a failed write waits for its retry (with backoff) on a timer, not in a blocking loop: deletes
// of acknowledged chunks keep running meanwhile, which is what frees the space a full disk needs. Writes stay in
// order (only the oldest is tried), and the recorder sees only that its buffers have not come back yet.
import { fsync, unlink } from 'node:fs';
import { join } from 'node:path';
import { parentPort } from 'node:worker_threads';
import { encodeRolloutChunk, type RolloutCompression, type RolloutHeaderInput } from '../contracts/rollout.js';
import { viewColumns, type ColumnMessage } from './column-set.js';
import { SpoolDir, type MarkerBase, type SpoolEntry, type SpoolScan, type StagedChunk } from './spool-dir.js';

export type ToWorker =
  | { op: 'open'; dir: string; compression: RolloutCompression; capacityBytes: number | null }
  | { op: 'write'; id: number; header: RolloutHeaderInput; set: ColumnMessage; obsDim: number; actDim: number; frameBytes: number }
  | { op: 'read'; id: number; file: string }
  | { op: 'begin'; base: MarkerBase }
  | { op: 'remove'; file: string }
  | { op: 'quarantine'; file: string; reason: string }
  | { op: 'close' };

export type FromWorker =
  | { op: 'opened'; scan: SpoolScan }
  | { op: 'open-failed'; error: string }
  | { op: 'written'; id: number; entry: SpoolEntry; payload: Uint8Array; set: ColumnMessage; encodeUs: number; writeUs: number }
  | { op: 'write-error'; id: number; error: string; attempt: number }
  | { op: 'read'; id: number; payload: Uint8Array | null; error: string | null }
  | { op: 'closed' };

const port = parentPort;
if (port === null) throw new Error('spool-worker must run as a worker thread');

type WriteMessage = Extract<ToWorker, { op: 'write' }>;
interface QueuedWrite { readonly msg: WriteMessage; payload: Uint8Array | null; encodeUs: number; attempt: number }

const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5000;
let spool: SpoolDir | null = null;
/** Writes in arrival order; only the head is tried. */
const writes: QueuedWrite[] = [];
let backoffMs = FIRST_BACKOFF_MS;
let retryTimer: NodeJS.Timeout | null = null;
let closeRequested = false;
let drainScheduled = false;
let unlinksPending = 0;
/** Deletes under way, by file name: a chunk renamed to a name still being deleted waits for that delete first. */
const unlinking = new Map<string, Promise<void>>();

function transferOf(set: ColumnMessage): ArrayBuffer[] {
  const list = [set.observation, set.action, set.actionMean, set.logProb, set.command, set.progress, ...set.reward, set.flags, set.step, set.stampMs].map((a) => a.buffer as ArrayBuffer);
  if (set.frames !== null) list.push(set.frames.buffer as ArrayBuffer);
  if (set.frameStep !== null) list.push(set.frameStep.buffer as ArrayBuffer);
  return list;
}

port.on('message', (msg: ToWorker) => {
  switch (msg.op) {
    case 'open': {
      try {
        spool = new SpoolDir(msg.dir, msg.compression, msg.capacityBytes);
        port.postMessage({ op: 'opened', scan: spool.open() } satisfies FromWorker);
      } catch (err) {
        port.postMessage({ op: 'open-failed', error: String((err as Error).message ?? err) } satisfies FromWorker);
      }
      return;
    }
    case 'write':
      writes.push({ msg, payload: null, encodeUs: 0, attempt: 0 });
      // Not at once: writes posted together (a backlog) arrive as separate messages; drain them as one batch.
      if (retryTimer === null && !drainScheduled && !draining) { drainScheduled = true; setImmediate(() => { drainScheduled = false; if (retryTimer === null) drainWrites(); }); }
      return;
    case 'read': {
      try {
        const payload = (spool as SpoolDir).read(msg.file);
        port.postMessage({ op: 'read', id: msg.id, payload, error: null } satisfies FromWorker, payload === null ? [] : [payload.buffer as ArrayBuffer]);
      } catch (err) {
        port.postMessage({ op: 'read', id: msg.id, payload: null, error: String((err as Error).message ?? err) } satisfies FromWorker);
      }
      return;
    }
    case 'begin':
      // Best effort: without it an episode killed before its first chunk is only missing its closing record.
      try { (spool as SpoolDir).markOpen(msg.base); } catch { /* a failing disk is reported by the writes */ }
      return;
    case 'remove':
      // On libuv's pool, not on this thread: an unlink waits for the file system's journal (milliseconds while
      // fsyncs run), and acks come in bursts of a whole updater batch; done here they would hold up the next
      // batch of writes. A delete lost to a crash is one harmless resend (the updater acks it "duplicate").
      unlinksPending++;
      unlinking.set(msg.file, new Promise<void>((resolve) => {
        unlink(join((spool as SpoolDir).dir, msg.file), () => {
          unlinksPending--;
          unlinking.delete(msg.file);
          resolve();
          retrySoon(); // space came back: a failing write need not wait out its backoff
          if (closeRequested) maybeClose();
        });
      }));
      return;
    case 'quarantine':
      try { (spool as SpoolDir).quarantine(msg.file, msg.reason); } catch { /* left in place; read() will find it again */ }
      return;
    case 'close':
      closeRequested = true;
      maybeClose();
      return;
  }
});

/** Close once every write and delete has finished. */
function maybeClose(): void {
  if (!portClosed && writes.length === 0 && !draining && !drainScheduled && unlinksPending === 0) closeNow();
}

let portClosed = false;

function closeNow(): void {
  portClosed = true;
  if (retryTimer !== null) clearTimeout(retryTimer);
  port!.postMessage({ op: 'closed' } satisfies FromWorker);
  port!.close();
}

interface Staged { readonly w: QueuedWrite; readonly st: StagedChunk; readonly bytes: Uint8Array; readonly t0: number }
let draining = false;

/**
 * Write queued chunks in order until one fails; that one is retried on a timer while other messages run. Every
 * chunk queued now is one batch: each written to its temporary file, the files fsynced together (a single chunk
 * on this thread; several at once on libuv's pool, so the kernel commits its journal for all of them in one
 * go), renamed in order, then the directory synced once. Nothing is reported written (and so nothing is
 * published) before that. At one chunk at a time this is the old write: temp, fsync, rename, fsync dir.
 */
function drainWrites(): void {
  retryTimer = null;
  if (draining) return;
  draining = true;
  void drainBatch().finally(() => {
    draining = false;
    if (closeRequested) maybeClose();
  });
}

async function drainBatch(): Promise<void> {
  const s = spool as SpoolDir;
  while (writes.length > 0) {
    const staged: Staged[] = [];
    let failure: { w: QueuedWrite; error: string } | null = null;
    for (const w of writes) {
      const msg = w.msg;
      if (w.payload === null) {
        const t0 = performance.now();
        w.payload = encodeRolloutChunk(msg.header, viewColumns(msg.set, msg.obsDim, msg.actDim, msg.frameBytes), s.compression);
        w.encodeUs = (performance.now() - t0) * 1000;
      }
      const t0 = performance.now();
      w.attempt++;
      try {
        const st = s.stage(msg.header, w.payload);
        const bytes = w.payload.byteOffset === 0 && w.payload.byteLength === w.payload.buffer.byteLength ? w.payload : w.payload.slice();
        staged.push({ w, st, bytes, t0 });
      } catch (err) {
        failure = { w, error: String((err as Error).message ?? err) };
        break;
      }
    }
    if (staged.length > 0) {
      let committed = 0;
      // Names repeat only when another process closed an episode in this directory (a tombstone), but a delete
      // finishing after the rename would take the new chunk with it.
      const clashes = staged.flatMap(({ st }) => unlinking.get(st.file) ?? []);
      if (clashes.length > 0) await Promise.all(clashes);
      try {
        if (staged.length === 1) s.fsyncStaged(staged[0].st);
        else await Promise.all(staged.map(({ st }) => fsyncAsync(st.fd as number)));
        for (const { st } of staged) { s.commit(st); committed++; }
        s.syncDir();
      } catch (err) {
        // What was renamed stays (it is reported once the directory sync succeeds, on the retry at the latest);
        // the rest of the batch is written again on the retry.
        for (const { st } of staged.slice(committed)) s.abandon(st);
        failure = { w: staged[committed]?.w ?? staged[0].w, error: String((err as Error).message ?? err) };
        // Renamed files that cannot be made durable now stay on disk unreported and are written again on the
        // retry: the next start's scan finds both copies, and the updater acks the second "duplicate".
        if (committed > 0) {
          try { s.syncDir(); } catch { committed = 0; }
        }
        staged.length = committed;
      }
    }
    const now = performance.now();
    for (const { w, st, bytes, t0 } of staged) {
      writes.shift();
      port!.postMessage(
        { op: 'written', id: w.msg.id, entry: { file: st.file, ...st.entry, bytes: st.bytes }, payload: bytes, set: w.msg.set, encodeUs: w.encodeUs, writeUs: ((now - t0) * 1000) / staged.length } satisfies FromWorker,
        [bytes.buffer as ArrayBuffer, ...transferOf(w.msg.set)],
      );
    }
    if (failure !== null) {
      port!.postMessage({ op: 'write-error', id: failure.w.msg.id, error: failure.error, attempt: failure.w.attempt } satisfies FromWorker);
      retryTimer = setTimeout(drainWrites, backoffMs);
      backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
      return;
    }
    backoffMs = FIRST_BACKOFF_MS;
  }
}

/** fsync on libuv's pool: several at once, so the kernel commits its journal once for all of them. */
function fsyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => { fsync(fd, (err) => (err ? reject(err) : resolve())); });
}

function retrySoon(): void {
  if (retryTimer === null) return;
  clearTimeout(retryTimer);
  retryTimer = setTimeout(drainWrites, 0);
}


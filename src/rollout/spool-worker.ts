// The spool worker thread: encodes cut chunks (MessagePack, optional gzip), writes them durably and answers
// reads, deletes and quarantines. All disk work happens here, so neither the control tick nor libuv's shared
// thread pool (which serialport also uses) ever waits on a slow fsync. Messages are handled one at a time, in
// order, except that a failed write waits for its retry (with backoff) on a timer, not in a blocking loop: deletes
// of acknowledged chunks keep running meanwhile, which is what frees the space a full disk needs. Writes stay in
// order (only the oldest is tried), and the recorder sees only that its buffers have not come back yet.
import { unlink } from 'node:fs';
import { join } from 'node:path';
import { parentPort } from 'node:worker_threads';
import { encodeRolloutChunk, type RolloutCompression, type RolloutHeaderInput } from '../contracts/rollout.js';
import { viewColumns, type ColumnMessage, type ColumnRef } from './column-set.js';
import { SpoolDir, type MarkerBase, type SpoolEntry, type SpoolScan } from './spool-dir.js';

export type ToWorker =
  | { op: 'open'; dir: string; compression: RolloutCompression; capacityBytes: number | null }
  | { op: 'write'; id: number; header: RolloutHeaderInput; set: ColumnRef; obsDim: number; actDim: number; frameBytes: number }
  | { op: 'read'; id: number; entry: SpoolEntry }
  | { op: 'begin'; base: MarkerBase }
  | { op: 'remove'; entries: SpoolEntry[] }
  | { op: 'quarantine'; entry: SpoolEntry; reason: string }
  | { op: 'close' };

export type FromWorker =
  | { op: 'opened'; scan: SpoolScan }
  | { op: 'open-failed'; error: string }
  | { op: 'written'; id: number; entry: SpoolEntry; payload: Uint8Array; encodeUs: number; writeUs: number }
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
/** After a failed write, the retry writes the oldest chunk alone (a batch may not fit where one chunk does). */
let oneAtATime = false;

/** The recorder's column sets by key: shared memory, sent once per set and kept. */
const sets = new Map<number, ColumnMessage>();

function columnsOf(ref: ColumnRef): ColumnMessage {
  if (ref.columns !== null && ref.keep) sets.set(ref.key, ref.columns);
  const columns = ref.columns ?? sets.get(ref.key);
  if (columns === undefined) throw new Error(`column set ${ref.key} was never sent to the spool worker`);
  return columns;
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
        const payload = (spool as SpoolDir).read(msg.entry);
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
    case 'remove': {
      // The file itself is deleted on libuv's pool, not on this thread: an unlink waits for the file system's
      // journal (milliseconds while fsyncs run), and acks come in bursts of a whole updater batch; done here they
      // would hold up the next batch of writes. A delete lost to a crash is one harmless resend (the updater
      // acks it "duplicate").
      for (const entry of msg.entries) {
        let file: string | null;
        try { file = (spool as SpoolDir).release(entry); } catch { continue; } // kept on disk: resent after a restart, acked "duplicate"
        if (file === null) continue;
        unlinksPending++;
        unlink(join((spool as SpoolDir).dir, file), () => {
          unlinksPending--;
          retrySoon(); // space came back: a failing write need not wait out its backoff
          if (closeRequested) maybeClose();
        });
      }
      return;
    }
    case 'quarantine':
      try { (spool as SpoolDir).quarantine(msg.entry, msg.reason); } catch { /* left in place; read() will find it again */ }
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
  try { spool?.close(); } catch { /* its chunks are on disk; only the segment's descriptor is left */ }
  if (retryTimer !== null) clearTimeout(retryTimer);
  port!.postMessage({ op: 'closed' } satisfies FromWorker);
  port!.close();
}

let draining = false;

/**
 * Write queued chunks in order: every chunk queued now is one batch, appended to the spool's segment with one
 * write and one fdatasync. Nothing is reported written (and so nothing is published) before that. A failed
 * batch is retried on a timer while other messages run, its oldest chunk alone first.
 */
function drainWrites(): void {
  retryTimer = null;
  if (draining) return;
  draining = true;
  try {
    drainBatch();
  } finally {
    draining = false;
    if (closeRequested) maybeClose();
  }
}

function drainBatch(): void {
  const s = spool as SpoolDir;
  while (writes.length > 0) {
    const batch = oneAtATime ? writes.slice(0, 1) : writes.slice();
    for (const w of batch) {
      if (w.payload !== null) continue;
      const t0 = performance.now();
      const ref = w.msg.set;
      w.payload = encodeRolloutChunk(w.msg.header, viewColumns(columnsOf(ref), ref.n, ref.m, w.msg.obsDim, w.msg.actDim, w.msg.frameBytes), s.compression);
      w.encodeUs = (performance.now() - t0) * 1000;
    }
    const t0 = performance.now();
    let entries: SpoolEntry[];
    try {
      for (const w of batch) w.attempt++;
      entries = s.writeBatch(batch.map((w) => ({ header: w.msg.header, payload: w.payload as Uint8Array })));
    } catch (err) {
      const head = batch[0];
      port!.postMessage({ op: 'write-error', id: head.msg.id, error: String((err as Error).message ?? err), attempt: head.attempt } satisfies FromWorker);
      oneAtATime = true;
      retryTimer = setTimeout(drainWrites, backoffMs);
      backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
      return;
    }
    oneAtATime = false;
    backoffMs = FIRST_BACKOFF_MS;
    const writeUs = ((performance.now() - t0) * 1000) / batch.length;
    for (let i = 0; i < batch.length; i++) {
      const w = writes.shift() as QueuedWrite;
      const payload = w.payload as Uint8Array;
      const bytes = payload.byteOffset === 0 && payload.byteLength === payload.buffer.byteLength ? payload : payload.slice();
      port!.postMessage(
        { op: 'written', id: w.msg.id, entry: entries[i], payload: bytes, encodeUs: w.encodeUs, writeUs } satisfies FromWorker,
        [bytes.buffer as ArrayBuffer],
      );
    }
  }
}

function retrySoon(): void {
  if (retryTimer === null) return;
  clearTimeout(retryTimer);
  retryTimer = setTimeout(drainWrites, 0);
}


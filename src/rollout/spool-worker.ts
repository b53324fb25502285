// The spool worker thread: encodes cut chunks (MessagePack, optional gzip), writes them durably and answers
// reads, deletes and quarantines. All disk work happens here, so neither the control tick nor libuv's shared
// thread pool (which serialport also uses) ever waits on a slow fsync. Messages are handled one at a time, in
// order, except that a failed write waits for its retry (with backoff) on a timer, not in a blocking loop: deletes
// of acknowledged chunks keep running meanwhile, which is what frees the space a full disk needs. Writes stay in
// order (only the oldest is tried), and the recorder sees only that its buffers have not come back yet.
import { parentPort } from 'node:worker_threads';
import { encodeRolloutChunk, type RolloutCompression, type RolloutHeaderInput } from '../contracts/rollout.js';
import { viewColumns, type ColumnMessage } from './column-set.js';
import { SpoolDir, type MarkerBase, type SpoolEntry, type SpoolScan } from './spool-dir.js';

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
      if (retryTimer === null) drainWrites();
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
      try { (spool as SpoolDir).remove(msg.file); } catch { /* reported by the next scan */ }
      retrySoon(); // space came back: a failing write need not wait out its backoff
      return;
    case 'quarantine':
      try { (spool as SpoolDir).quarantine(msg.file, msg.reason); } catch { /* left in place; read() will find it again */ }
      return;
    case 'close':
      closeRequested = true;
      if (writes.length === 0) closeNow();
      return;
  }
});

function closeNow(): void {
  if (retryTimer !== null) clearTimeout(retryTimer);
  port!.postMessage({ op: 'closed' } satisfies FromWorker);
  port!.close();
}

/** Write queued chunks in order until one fails; that one is retried on a timer while other messages run. */
function drainWrites(): void {
  retryTimer = null;
  const s = spool as SpoolDir;
  while (writes.length > 0) {
    const w = writes[0];
    const msg = w.msg;
    if (w.payload === null) {
      const t0 = performance.now();
      w.payload = encodeRolloutChunk(msg.header, viewColumns(msg.set, msg.obsDim, msg.actDim, msg.frameBytes), s.compression);
      w.encodeUs = (performance.now() - t0) * 1000;
    }
    const payload = w.payload;
    const t1 = performance.now();
    w.attempt++;
    try {
      const entry = s.write(msg.header, payload);
      const bytes = payload.byteOffset === 0 && payload.byteLength === payload.buffer.byteLength ? payload : payload.slice();
      writes.shift();
      backoffMs = FIRST_BACKOFF_MS;
      port!.postMessage(
        { op: 'written', id: msg.id, entry, payload: bytes, set: msg.set, encodeUs: w.encodeUs, writeUs: (performance.now() - t1) * 1000 } satisfies FromWorker,
        [bytes.buffer as ArrayBuffer, ...transferOf(msg.set)],
      );
    } catch (err) {
      port!.postMessage({ op: 'write-error', id: msg.id, error: String((err as Error).message ?? err), attempt: w.attempt } satisfies FromWorker);
      retryTimer = setTimeout(drainWrites, backoffMs);
      backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
      return;
    }
  }
  if (closeRequested) closeNow();
}

function retrySoon(): void {
  if (retryTimer === null) return;
  clearTimeout(retryTimer);
  retryTimer = setTimeout(drainWrites, 0);
}


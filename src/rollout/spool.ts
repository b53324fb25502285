// The robot-side handle on the spool worker. Everything here returns at once: a cut chunk's set (shared memory,
// see column-set.ts) goes to the worker by key, and comes back through onReleased once the chunk is on disk.
import { Worker } from 'node:worker_threads';
import { compressionAvailable, type RolloutCompression, type RolloutHeaderInput } from '../contracts/rollout.js';
import { StriatumError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ColumnRef, ColumnSet } from './column-set.js';
import type { MarkerBase, SpoolEntry, SpoolScan } from './spool-dir.js';
import type { FromWorker, ToWorker } from './spool-worker.js';

export interface SpoolOptions {
  readonly dir: string;
  /** Bound on the bytes of live chunk files; the recorder pauses before it is reached. */
  readonly maxBytes: number;
  readonly compression: RolloutCompression;
  readonly logger: Logger;
  /** Simulated size of the file system under the spool (tests of a full disk); writes past it fail with ENOSPC. */
  readonly capacityBytes?: number;
}

export interface SpoolStats {
  chunksWritten: number;
  bytesWritten: number;
  writeErrors: number;
  /** Worker time per chunk, for the bench: MessagePack + compression, and its share of its batch's write + fdatasync. */
  lastEncodeUs: number;
  lastWriteUs: number;
}

export class Spool {
  /** Chunks found on disk at start (oldest first), tombstones included: the publisher drains these first. */
  readonly backlog: readonly SpoolEntry[];
  readonly scan: SpoolScan;
  usedBytes: number;
  /** Chunks handed to the worker and not yet on disk. */
  writesPending = 0;
  readonly stats: SpoolStats = { chunksWritten: 0, bytesWritten: 0, writeErrors: 0, lastEncodeUs: 0, lastWriteUs: 0 };
  /** Worker time summed over every chunk written, µs (the bench's breakdown; not in telemetry). */
  readonly workerUs = { encode: 0, write: 0 };

  /** A chunk is durably on disk; payload is exactly what is to be published. */
  onWritten: ((entry: SpoolEntry, payload: Uint8Array) => void) | null = null;
  /** A set's buffers are back from the worker, empty. */
  onReleased: ((set: ColumnSet) => void) | null = null;
  /** usedBytes changed, or a write failed / recovered. */
  onUsage: (() => void) | null = null;
  /** The worker could not write a chunk (it keeps retrying). */
  onWriteError: ((error: string, attempt: number) => void) | null = null;

  private nextId = 1;
  private readonly inFlight = new Map<number, ColumnSet>();
  /** Sets whose columns the worker already holds. */
  private readonly knownSets = new Set<number>();
  private readonly reads = new Map<number, (payload: Uint8Array | null) => void>();
  private closing: Promise<void> | null = null;
  private flushWaiters: (() => void)[] = [];
  private queued: ({ header: RolloutHeaderInput; set: ColumnSet } | { begin: MarkerBase } | { remove: SpoolEntry })[] = [];
  private postScheduled = false;
  /** True between a write error and the next successful write. */
  failing = false;

  private constructor(private readonly worker: Worker, readonly options: SpoolOptions, scan: SpoolScan) {
    this.scan = scan;
    this.backlog = scan.entries;
    this.usedBytes = scan.usedBytes;
    worker.on('message', (m: FromWorker) => this.onMessage(m));
    worker.on('error', (err) => options.logger.error('spool worker failed', { error: err.message }));
  }

  static async open(options: SpoolOptions): Promise<Spool> {
    if (!compressionAvailable(options.compression)) {
      throw new StriatumError('STRIATUM_ERR_CONFIG', `rollout compression ${options.compression} is not available in Node.js ${process.version} (zstd needs 22.15 or later); use gzip or none`);
    }
    const worker = new Worker(new URL('./spool-worker.js', import.meta.url));
    const scan = await new Promise<SpoolScan>((resolve, reject) => {
      const onMessage = (m: FromWorker) => {
        worker.off('error', onError);
        if (m.op === 'opened') resolve(m.scan);
        else reject(new StriatumError('STRIATUM_ERR_IO', `rollout spool ${options.dir} cannot be opened: ${m.op === 'open-failed' ? m.error : m.op}`));
      };
      const onError = (err: Error) => reject(new StriatumError('STRIATUM_ERR_IO', `rollout spool worker failed: ${err.message}`));
      worker.once('message', onMessage);
      worker.once('error', onError);
      worker.postMessage({ op: 'open', dir: options.dir, compression: options.compression, capacityBytes: options.capacityBytes ?? null } satisfies ToWorker);
    }).catch(async (err: unknown) => { await worker.terminate(); throw err; });
    const log = options.logger;
    for (const q of scan.quarantined) log.warn('rollout spool: quarantined a file', { file: q.file, reason: q.reason });
    if (scan.tombstones > 0) log.warn('rollout spool: closed episodes a previous process left open', { episodes: scan.tombstones });
    log.info('rollout spool open', { dir: options.dir, backlog_chunks: scan.entries.length, backlog_bytes: scan.usedBytes, max_bytes: options.maxBytes });
    return new Spool(worker, options, scan);
  }

  /**
   * Hand a filled set to the worker. Returns at once: the set is queued and posted from a setImmediate, so
   * the cost of postMessage lands between control ticks, not inside one. The set must not be written until it
   * comes back, empty, through onReleased.
   */
  submit(header: RolloutHeaderInput, set: ColumnSet): void {
    if (this.closing !== null) throw new StriatumError('STRIATUM_ERR_INTERNAL', 'rollout spool is closing');
    this.writesPending++;
    this.queued.push({ header, set });
    this.schedulePost();
  }

  /** An episode began: the worker marks it open on disk before its first chunk (posted between ticks, in order). */
  beginEpisode(base: MarkerBase): void {
    if (this.closing !== null) return;
    this.queued.push({ begin: base });
    this.schedulePost();
  }

  private schedulePost(): void {
    if (!this.postScheduled) {
      this.postScheduled = true;
      setImmediate(this.postQueued);
    }
  }

  private readonly postQueued = (): void => {
    this.postScheduled = false;
    const q = this.queued;
    this.queued = [];
    let removes: SpoolEntry[] = [];
    const postRemoves = () => {
      if (removes.length === 0) return;
      this.worker.postMessage({ op: 'remove', entries: removes } satisfies ToWorker);
      removes = [];
    };
    for (const item of q) {
      if ('remove' in item) { // the acks of one updater batch arrive together: one message for all of them
        removes.push(item.remove);
        continue;
      }
      postRemoves();
      if ('begin' in item) {
        this.worker.postMessage({ op: 'begin', base: item.begin } satisfies ToWorker);
        continue;
      }
      const { header, set } = item;
      const id = this.nextId++;
      this.inFlight.set(id, set);
      const keep = set.capacity > 0; // not a one-off empty set
      const known = this.knownSets.has(set.key);
      if (keep && !known) this.knownSets.add(set.key);
      const ref: ColumnRef = { key: set.key, n: set.n, m: set.m, columns: known ? null : set.columns(), keep };
      this.worker.postMessage({ op: 'write', id, header, set: ref, obsDim: set.obsDim, actDim: set.actDim, frameBytes: set.frameBytes } satisfies ToWorker);
    }
    postRemoves();
  };

  /** The bytes of a spooled chunk, verified against its CRC; null when gone or damaged (then quarantined). */
  read(entry: SpoolEntry): Promise<Uint8Array | null> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.reads.set(id, resolve);
      this.worker.postMessage({ op: 'read', id, entry } satisfies ToWorker);
    });
  }

  /** The updater has the chunk: delete it (posted between ticks with the other deletes of the same turn). */
  remove(entry: SpoolEntry): void {
    this.usedBytes -= entry.bytes;
    if (this.closing === null) {
      this.queued.push({ remove: entry });
      this.schedulePost();
    } else {
      this.worker.postMessage({ op: 'remove', entries: [entry] } satisfies ToWorker); // the queue was flushed by close()
    }
    this.onUsage?.();
  }

  quarantine(entry: SpoolEntry, reason: string): void {
    this.usedBytes -= entry.bytes;
    this.worker.postMessage({ op: 'quarantine', entry, reason } satisfies ToWorker);
    this.onUsage?.();
  }

  /** A chunk found damaged on read (the worker has quarantined it): stop counting its bytes. */
  discarded(entry: SpoolEntry): void {
    this.usedBytes -= entry.bytes;
    this.onUsage?.();
  }

  /** Resolves once every submitted chunk is on disk (or could not be written before close). */
  flushed(): Promise<void> {
    if (this.writesPending === 0) return Promise.resolve();
    return new Promise((resolve) => this.flushWaiters.push(resolve));
  }

  /** Let queued writes finish (at most timeoutMs), then stop the worker. */
  close(timeoutMs = 10_000): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.postQueued();
    this.closing = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.options.logger.error('rollout spool: writes did not finish in time; chunks not on disk are lost', { chunks: this.writesPending });
        void this.worker.terminate().then(() => resolve());
      }, timeoutMs);
      this.worker.once('exit', () => { clearTimeout(timer); resolve(); });
      this.worker.postMessage({ op: 'close' } satisfies ToWorker);
    });
    return this.closing;
  }

  private onMessage(m: FromWorker): void {
    switch (m.op) {
      case 'written': {
        const set = this.inFlight.get(m.id);
        this.inFlight.delete(m.id);
        this.writesPending--;
        this.usedBytes += m.entry.bytes;
        this.stats.chunksWritten++;
        this.stats.bytesWritten += m.entry.bytes;
        this.stats.lastEncodeUs = m.encodeUs;
        this.stats.lastWriteUs = m.writeUs;
        this.workerUs.encode += m.encodeUs;
        this.workerUs.write += m.writeUs;
        if (this.failing) {
          this.failing = false;
          this.options.logger.info('rollout spool: writing again');
        }
        this.onWritten?.(m.entry, m.payload);
        if (set !== undefined) {
          set.reset();
          this.onReleased?.(set);
        }
        this.onUsage?.();
        if (this.writesPending === 0 && this.flushWaiters.length > 0) {
          const w = this.flushWaiters;
          this.flushWaiters = [];
          for (const f of w) f();
        }
        return;
      }
      case 'write-error':
        this.stats.writeErrors++;
        if (!this.failing || m.attempt % 10 === 0) this.options.logger.error('rollout spool: write failed; retrying', { error: m.error, attempt: m.attempt });
        this.failing = true;
        this.onWriteError?.(m.error, m.attempt);
        this.onUsage?.();
        return;
      case 'read': {
        const resolve = this.reads.get(m.id);
        this.reads.delete(m.id);
        if (m.error !== null) this.options.logger.error('rollout spool: read failed', { error: m.error });
        resolve?.(m.payload);
        return;
      }
      default:
        return;
    }
  }
}

// The updater's edge: one inbound rollout message in, at most one ack out. Pure of MQTT (the runner passes
// topic and payload), so it is tested directly. Order per chunk: size cap → decode → version → schema →
// columns → robot id against the topic (the broker's ACL vouches for the topic, not for the payload) → store
// (one transaction, durable) → ack. A store failure sends no ack: the robot resends later.
//
// Validated chunks wait in a queue while the store commits the previous batch, and go in together as the next
// batch: one transaction, one fsync (SQLite) or one WAL flush (PostgreSQL) for everything that arrived during
// the last commit. Under load that is group commit; at one chunk at a time it is the old one-per-transaction.
//
// A store that is full (SQLITE_FULL, ENOSPC, PostgreSQL's disk_full) pauses ingest: the batch goes back to the
// head of the queue, nothing is acked, the write is retried with backoff, and onStoreFull / onStoreResumed let
// the runner raise and clear an alarm. Meanwhile the robots' spools hold the data; chunks arriving while paused
// wait (up to MAX_QUEUED_WHILE_PAUSED, the rest unacked, so their robots resend them later).
import {
  ROLLOUT_VERSION, checkRolloutChunk, peekChunkIdentity, type RejectCode, type RolloutAck, type UpdaterStatus,
} from '../contracts/rollout.js';
import { robotOfTopic, topics } from '../contracts/topics.js';
import { crc32c } from '../transports/serial/crc32c.js';
import type { Logger } from '../log.js';
import { isStoreFull, type EpisodeStore, type IncomingChunk } from './episode-store.js';

export interface IngestResult {
  readonly outcome: 'stored' | 'duplicate' | 'rejected' | 'ignored' | 'store_failed';
  readonly ack: RolloutAck | null;
  readonly ackTopic: string | null;
}

interface Waiting extends IncomingChunk {
  readonly robot: string;
  readonly resolve: (r: IngestResult) => void;
}

/** Most chunks one transaction takes (a chunk is at most max_chunk_bytes; 64 keeps a batch well under a second). */
export const MAX_BATCH_CHUNKS = 64;
/** While the store is full, at most this many chunks wait in memory; later ones are left unacked (resent later). */
export const MAX_QUEUED_WHILE_PAUSED = 4 * MAX_BATCH_CHUNKS;
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;

export interface IngestOptions {
  readonly maxChunkBytes: number;
  readonly logger: Logger;
  readonly maxBatch?: number;
  /** The store refused a write for lack of space: ingest is paused (called once per pause). */
  readonly onStoreFull?: (e: { readonly error: string; readonly queued: number }) => void;
  /** A retry succeeded after a pause. */
  readonly onStoreResumed?: (e: { readonly pausedMs: number; readonly queued: number }) => void;
  /** First delay before retrying a full store (doubles up to 30 s); tests shorten it. */
  readonly retryMs?: number;
}

export class Ingest {
  readonly counts = { stored: 0, duplicate: 0, rejected: 0 };
  readonly rejectedByCode: Record<string, number> = {};
  stepsStored = 0;
  episodesComplete = 0;
  unrecordedSteps = 0;
  storeFailures = 0;
  lastRejection: UpdaterStatus['last_rejection'] = null;

  batches = 0;
  /** Time spent in the store's transactions (commit included), ms, for the bench's breakdown. */
  storeMs = 0;
  private queue: Waiting[] = [];
  /** Batches committing now; PostgreSQL takes two at once (its WAL flush serves both), SQLite one. */
  private flushers = 0;
  private readonly maxFlushers: number;
  private flushScheduled = false;
  /** Set while the store is full: since when, the last error, the next retry's delay. */
  private paused: { since: number; error: string; retryMs: number } | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly store: EpisodeStore, private readonly o: IngestOptions) {
    this.maxFlushers = store.kind === 'postgres' ? 2 : 1;
  }

  /** Chunks validated and waiting for the store. */
  get queued(): number { return this.queue.length; }

  /** True while the store is full and writes are being retried. */
  get storeFull(): boolean { return this.paused !== null; }

  /** Stop retrying; chunks still waiting resolve as store_failed (unacked: their robots resend them). */
  stop(): void {
    this.stopped = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const q = this.queue;
    this.queue = [];
    for (const w of q) w.resolve({ outcome: 'store_failed', ack: null, ackTopic: null });
  }

  /** Resolves once the chunk is committed (or refused, or the store failed); never rejects. */
  handle(topic: string, payload: Uint8Array): Promise<IngestResult> {
    const robot = robotOfTopic(topic);
    if (robot === null || topic !== topics.rollout(robot)) return Promise.resolve({ outcome: 'ignored', ack: null, ackTopic: null });
    const decoded = checkRolloutChunk(payload, { maxBytes: this.o.maxChunkBytes });
    if (!decoded.ok) {
      // A chunk that will never be accepted is always answered, or the robot would resend it forever: by its
      // identity (decoded, or read from its first bytes when it is too big or damaged), else by its CRC-32C.
      const id = decoded.identity ?? peekChunkIdentity(payload);
      const named = id !== null && id.robot === robot ? id : null;
      return Promise.resolve(this.rejected(robot, decoded.code, decoded.error, named, named === null ? crc32c(payload) : null));
    }
    const chunk = decoded.value;
    const h = chunk.header;
    if (h.robot !== robot) {
      return Promise.resolve(this.rejected(robot, 'robot_mismatch', `chunk says robot "${h.robot}" but arrived on ${topic}`, { episode: h.episode, chunk: h.chunk }));
    }
    if (this.stopped || (this.paused !== null && this.queue.length >= MAX_QUEUED_WHILE_PAUSED)) {
      this.storeFailures++;
      return Promise.resolve({ outcome: 'store_failed', ack: null, ackTopic: null });
    }
    return new Promise((resolve) => {
      this.queue.push({ chunk, wireBytes: payload.byteLength, robot, resolve });
      if (this.paused === null && this.flushers < this.maxFlushers && !this.flushScheduled) {
        this.flushScheduled = true;
        this.flushers++;
        // Next turn: every message already read from the socket joins this batch.
        setImmediate(() => { this.flushScheduled = false; void this.flush(); });
      }
    });
  }

  private async flush(): Promise<void> {
    const max = this.o.maxBatch ?? MAX_BATCH_CHUNKS;
    while (this.queue.length > 0) {
      const batch = this.queue.length <= max ? this.queue : this.queue.slice(0, max);
      this.queue = this.queue.length <= max ? [] : this.queue.slice(max);
      let results: Awaited<ReturnType<EpisodeStore['storeChunks']>>;
      const t0 = performance.now();
      try {
        results = await this.store.storeChunks(batch);
        this.storeMs += performance.now() - t0;
        this.batches++;
      } catch (err) {
        if (isStoreFull(err) && !this.stopped) {
          // Back to the head of the queue, in order; nothing acked; retried on a timer.
          this.queue = batch.concat(this.queue);
          this.pause((err as Error).message);
          break;
        }
        this.storeFailures += batch.length;
        this.o.logger.error('rollout store failed; not acknowledging (the robots will resend)', { chunks: batch.length, first: `${batch[0].robot}/${batch[0].chunk.header.episode}/${batch[0].chunk.header.chunk}`, error: (err as Error).message });
        for (const w of batch) w.resolve({ outcome: 'store_failed', ack: null, ackTopic: null });
        continue;
      }
      if (this.paused !== null) this.resume();
      for (let i = 0; i < batch.length; i++) {
        const w = batch[i];
        const h = w.chunk.header;
        const r = results[i];
        if (r.completed) this.episodesComplete++;
        this.counts[r.status]++;
        if (r.status === 'stored') {
          this.stepsStored += h.n;
          this.unrecordedSteps += h.skipped_steps;
          if (h.skipped_steps > 0) this.o.logger.warn('robot reports steps it could not record', { robot: w.robot, episode: h.episode, chunk: h.chunk, skipped_steps: h.skipped_steps });
        }
        w.resolve({ outcome: r.status, ack: { v: ROLLOUT_VERSION, robot: w.robot, episode: h.episode, chunk: h.chunk, status: r.status }, ackTopic: topics.rolloutAck(w.robot) });
      }
    }
    this.flushers--;
  }

  private pause(error: string): void {
    if (this.paused === null) {
      this.paused = { since: Date.now(), error, retryMs: this.o.retryMs ?? FIRST_RETRY_MS };
      this.o.logger.error('rollout store is full: ingest paused, nothing acknowledged; retrying (the robots\' spools hold the data)', { error, queued_chunks: this.queue.length });
      this.o.onStoreFull?.({ error, queued: this.queue.length });
    } else {
      this.paused.error = error;
      this.o.logger.warn('rollout store still full; retrying', { error, retry_ms: this.paused.retryMs, queued_chunks: this.queue.length });
    }
    if (this.retryTimer !== null) return;
    const p = this.paused;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.stopped || this.paused === null) return;
      this.flushers++;
      void this.flush();
    }, p.retryMs);
    p.retryMs = Math.min(p.retryMs * 2, MAX_RETRY_MS);
  }

  private resume(): void {
    const p = this.paused as NonNullable<typeof this.paused>;
    this.paused = null;
    if (this.retryTimer !== null) { clearTimeout(this.retryTimer); this.retryTimer = null; }
    const pausedMs = Date.now() - p.since;
    this.o.logger.info('rollout store writable again: ingest resumed', { paused_ms: pausedMs, queued_chunks: this.queue.length });
    this.o.onStoreResumed?.({ pausedMs, queued: this.queue.length });
  }

  private rejected(robot: string, code: RejectCode, error: string, id: { episode: string; chunk: number } | null, payloadCrc: number | null = null): IngestResult {
    this.counts.rejected++;
    this.rejectedByCode[code] = (this.rejectedByCode[code] ?? 0) + 1;
    this.lastRejection = { robot, code, reason: error.slice(0, 300), stamp: new Date().toISOString() };
    this.o.logger.warn('rejected a rollout chunk', { robot, code, error, episode: id?.episode ?? null, chunk: id?.chunk ?? null, rejected_total: this.counts.rejected });
    const reason = `${code}: ${error}`.slice(0, 300);
    let ack: RolloutAck;
    if (id !== null) ack = { v: ROLLOUT_VERSION, robot, episode: id.episode, chunk: id.chunk, status: 'rejected', reason };
    else if (payloadCrc !== null) ack = { v: ROLLOUT_VERSION, robot, episode: null, chunk: null, status: 'rejected', reason, crc32c: payloadCrc };
    else return { outcome: 'rejected', ack: null, ackTopic: null };
    return { outcome: 'rejected', ack, ackTopic: topics.rolloutAck(robot) };
  }
}

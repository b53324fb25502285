// What the updater needs from an episode store, whichever engine holds it: SQLite (embedded, one file, the
// default) or PostgreSQL (one store for several updaters). Both keep the same exactly-once rule: a chunk is
// keyed by (robot, episode, chunk), a chunk and its episode's bookkeeping commit in one transaction, and the
// updater acks only after that commit. SQLite answers synchronously, PostgreSQL with promises; callers await.
import type { CheckedRolloutChunk } from '../contracts/rollout.js';
import type { EpisodeRow, ExportedEpisode, StoreResult, StoreTotals } from './store.js';

export type Awaitable<T> = T | Promise<T>;

export interface IncomingChunk {
  readonly chunk: CheckedRolloutChunk;
  /** Bytes as received on the wire (the store keeps it for sizing). */
  readonly wireBytes: number;
}

export type TrainingLockResult<T> = { readonly held: true; readonly value: T } | { readonly held: false };

export interface EpisodeStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Where it is, for logs: the file, or the URL without its password. */
  readonly location: string;
  /**
   * Store validated chunks in one transaction (durable when it resolves), one result per chunk in the order
   * given. Throws (rejects) when nothing was stored: then nothing may be acked.
   */
  storeChunks(batch: readonly IncomingChunk[]): Awaitable<StoreResult[]>;
  episode(robot: string, episode: string): Awaitable<EpisodeRow | null>;
  listEpisodes(filter?: { robot?: string; complete?: boolean }): Awaitable<EpisodeRow[]>;
  totals(): Awaitable<StoreTotals>;
  /** Every stored step of one episode, columns concatenated in chunk order. */
  exportEpisode(robot: string, episode: string, options?: { requireComplete?: boolean }): Awaitable<ExportedEpisode>;
  /**
   * Run fn while holding the store-wide training lock, with the next round number (counted in the store, so
   * rounds are numbered across updaters); `held: false` at once when another updater holds the lock.
   */
  withTrainingLock<T>(fn: (round: number) => Promise<T>): Promise<TrainingLockResult<T>>;
  close(): Awaitable<void>;
}

/** A store location: postgres:// or postgresql:// URLs are PostgreSQL, anything else a SQLite path. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/** The URL without its password, for logs and status. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}

/**
 * A write refused for lack of space: SQLite's SQLITE_FULL (a full disk, or the store's max_page_count), the file
 * system's ENOSPC, PostgreSQL's disk_full (53100). Ingest pauses on these instead of dropping the batch.
 */
export function isStoreFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code === '53100';
}

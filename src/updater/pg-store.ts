// The episode store on PostgreSQL (`store.url: postgres://…`): one store for several updaters. The same rule as
// SQLite: chunks keyed by (robot, episode, chunk), a chunk and its episode row in one transaction, ack after
// COMMIT (synchronous_commit as the server has it: on by default, so COMMIT returns once the WAL is flushed).
// Episode rows are kept incrementally (counts added in the batch's own statement, row-locked), so two updaters
// storing chunks of one episode at once never lose a count; a batch is sorted by key, so its row locks are
// always taken in one order and two updaters' batches cannot deadlock.
//
// Schema migrations are numbered and applied at start under an advisory lock; a store whose schema is newer
// than this updater knows is refused, never downgraded.
import pg from 'pg';
import { StriatumError } from '../errors.js';
import type { Logger } from '../log.js';
import type { EpisodeStore, IncomingChunk, TrainingLockResult } from './episode-store.js';
import { redactUrl } from './episode-store.js';
import {
  assembleEpisode, chunkRow, exportRefusal, type EpisodeRow, type ExportedEpisode, type StoreResult, type StoreTotals,
} from './store.js';

/** Each entry runs once, in order, in its own transaction; never edit one that has shipped: add the next. */
export const PG_MIGRATIONS: readonly { readonly version: number; readonly sql: string }[] = [
  {
    version: 1,
    sql: `
CREATE TABLE chunks (
  robot TEXT NOT NULL, episode TEXT NOT NULL, chunk INTEGER NOT NULL,
  n INTEGER NOT NULL, first_step INTEGER, last_step INTEGER,
  final BOOLEAN NOT NULL, outcome TEXT, end_reason TEXT, skipped_steps INTEGER NOT NULL,
  policy_version TEXT, task TEXT NOT NULL, instruction TEXT NOT NULL,
  compression TEXT NOT NULL, body_bytes INTEGER NOT NULL, wire_bytes INTEGER NOT NULL, received_at TEXT NOT NULL,
  header TEXT NOT NULL, body BYTEA NOT NULL,
  PRIMARY KEY (robot, episode, chunk)
);
-- Bodies are already MessagePack (often gzip'd): PostgreSQL's own compression would only cost CPU.
ALTER TABLE chunks ALTER COLUMN body SET STORAGE EXTERNAL;
CREATE TABLE episodes (
  robot TEXT NOT NULL, episode TEXT NOT NULL,
  task TEXT NOT NULL, instruction TEXT NOT NULL, policy_version TEXT, first_chunk INTEGER NOT NULL,
  chunks INTEGER NOT NULL, steps BIGINT NOT NULL, skipped_steps BIGINT NOT NULL,
  final_chunk INTEGER, outcome TEXT, end_reason TEXT,
  complete BOOLEAN GENERATED ALWAYS AS (final_chunk IS NOT NULL AND chunks = final_chunk + 1) STORED,
  first_received_at TEXT NOT NULL, last_received_at TEXT NOT NULL,
  PRIMARY KEY (robot, episode)
);
CREATE INDEX episodes_by_state ON episodes (complete, robot);
CREATE INDEX episodes_by_arrival ON episodes (first_received_at, robot, episode);
CREATE TABLE training_rounds (
  round SERIAL PRIMARY KEY, started_at TIMESTAMPTZ NOT NULL DEFAULT now()
);`,
  },
];
export const PG_SCHEMA_VERSION = PG_MIGRATIONS[PG_MIGRATIONS.length - 1].version;

// Advisory lock keys (one 64-bit space per database): migrations, and the fleet's one training round.
const LOCK_MIGRATE = 0x5354_5231; // "STR1"
const LOCK_TRAINING = 0x5354_5232; // "STR2"

const CHUNK_COLUMNS = 19;

/**
 * One statement per batch (one round trip, one plan): insert the chunks that are new, fold what was inserted into
 * each episode's row (grouped, since one statement may not update a row twice), and return the inserted keys
 * with whether their episode is complete now. Chunks only grow by one per new chunk, so an episode is complete
 * after this statement exactly when this batch completed it; the chunk that reports it is the batch's highest.
 * Rows go in key order (the caller sorts), episodes too, so two updaters' batches take row locks in one order.
 */
function storeBatchSql(rows: number): string {
  const values = Array.from({ length: rows }, (_, r) => `(${Array.from({ length: CHUNK_COLUMNS }, (_, c) => `$${r * CHUNK_COLUMNS + c + 1}`).join(', ')})`);
  return `
WITH ins AS (
  INSERT INTO chunks (robot, episode, chunk, n, first_step, last_step, final, outcome, end_reason, skipped_steps,
    policy_version, task, instruction, compression, body_bytes, wire_bytes, received_at, header, body)
  VALUES ${values.join(',\n    ')}
  ON CONFLICT (robot, episode, chunk) DO NOTHING
  RETURNING robot, episode, chunk, n, final, outcome, end_reason, skipped_steps, policy_version, task, instruction, received_at
), agg AS (
  SELECT robot, episode,
    (array_agg(task ORDER BY chunk))[1] AS task, (array_agg(instruction ORDER BY chunk))[1] AS instruction,
    (array_agg(policy_version ORDER BY chunk))[1] AS policy_version, min(chunk) AS first_chunk, max(chunk) AS last_chunk,
    count(*)::int AS chunks, sum(n) AS steps, sum(skipped_steps) AS skipped_steps,
    max(chunk) FILTER (WHERE final) AS final_chunk,
    (array_agg(outcome ORDER BY chunk DESC) FILTER (WHERE final))[1] AS outcome,
    (array_agg(end_reason ORDER BY chunk DESC) FILTER (WHERE final))[1] AS end_reason,
    min(received_at) AS first_received_at, max(received_at) AS last_received_at
  FROM ins GROUP BY robot, episode
), ep AS (
  INSERT INTO episodes AS e (robot, episode, task, instruction, policy_version, first_chunk, chunks, steps, skipped_steps,
    final_chunk, outcome, end_reason, first_received_at, last_received_at)
  SELECT robot, episode, task, instruction, policy_version, first_chunk, chunks, steps, skipped_steps,
    final_chunk, outcome, end_reason, first_received_at, last_received_at
  FROM agg ORDER BY robot, episode
  ON CONFLICT (robot, episode) DO UPDATE SET
    chunks = e.chunks + EXCLUDED.chunks, steps = e.steps + EXCLUDED.steps, skipped_steps = e.skipped_steps + EXCLUDED.skipped_steps,
    task = CASE WHEN EXCLUDED.first_chunk < e.first_chunk THEN EXCLUDED.task ELSE e.task END,
    instruction = CASE WHEN EXCLUDED.first_chunk < e.first_chunk THEN EXCLUDED.instruction ELSE e.instruction END,
    policy_version = CASE WHEN EXCLUDED.first_chunk < e.first_chunk THEN EXCLUDED.policy_version ELSE e.policy_version END,
    first_chunk = LEAST(e.first_chunk, EXCLUDED.first_chunk),
    final_chunk = COALESCE(GREATEST(e.final_chunk, EXCLUDED.final_chunk), e.final_chunk, EXCLUDED.final_chunk),
    outcome = CASE WHEN EXCLUDED.final_chunk IS NOT NULL AND (e.final_chunk IS NULL OR EXCLUDED.final_chunk > e.final_chunk) THEN EXCLUDED.outcome ELSE e.outcome END,
    end_reason = CASE WHEN EXCLUDED.final_chunk IS NOT NULL AND (e.final_chunk IS NULL OR EXCLUDED.final_chunk > e.final_chunk) THEN EXCLUDED.end_reason ELSE e.end_reason END,
    first_received_at = LEAST(e.first_received_at, EXCLUDED.first_received_at),
    last_received_at = GREATEST(e.last_received_at, EXCLUDED.last_received_at)
  RETURNING robot, episode, complete
)
SELECT i.robot, i.episode, i.chunk, (ep.complete AND i.chunk = agg.last_chunk) AS completed
FROM ins i JOIN agg USING (robot, episode) JOIN ep USING (robot, episode)`;
}

/** Prepared per batch size, on first use (a name per size, so each connection plans each size once). */
const batchSql = new Map<number, string>();

const EPISODE_COLUMNS = `robot, episode, task, instruction, policy_version, chunks, steps::float8 AS steps, skipped_steps::float8 AS skipped_steps,
  final_chunk, outcome, end_reason, complete, first_received_at, last_received_at`;

export interface PgStoreOptions {
  readonly logger: Logger;
  /** Give up (STRIATUM_ERR_STORE) after this long without reaching the server; default: keep trying. */
  readonly maxWaitMs?: number;
  /** Connections in the pool (ingest uses one at a time, training and listings another). */
  readonly poolSize?: number;
  /** Open without migrating (the commands that only read): a store with no schema is an error. */
  readonly readonly?: boolean;
}

const sortKey = (b: IncomingChunk) => `${b.chunk.header.robot}\u0000${b.chunk.header.episode}\u0000${String(b.chunk.header.chunk).padStart(10, '0')}`;

export class PgEpisodeStore implements EpisodeStore {
  readonly kind = 'postgres' as const;
  readonly location: string;
  private closed = false;

  private constructor(private readonly pool: pg.Pool, url: string) {
    this.location = redactUrl(url);
  }

  /**
   * Connect (retrying with backoff while the server is down: the robots' spools hold the data meanwhile), apply
   * missing migrations, refuse a newer schema.
   */
  static async open(url: string, o: PgStoreOptions): Promise<PgEpisodeStore> {
    const pool = new pg.Pool({ connectionString: url, max: o.poolSize ?? 4, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000 });
    // A connection the server drops while idle (restart, failover) is an 'error' event: log it, never crash.
    pool.on('error', (err) => o.logger.warn('rollout store connection lost; the next query reconnects', { error: err.message }));
    const store = new PgEpisodeStore(pool, url);
    let delay = 250;
    let waited = 0;
    for (;;) {
      try {
        await store.migrate(o.readonly === true);
        return store;
      } catch (err) {
        if (err instanceof StriatumError) { await pool.end().catch(() => undefined); throw err; }
        const message = (err as Error).message;
        if (o.maxWaitMs !== undefined && waited >= o.maxWaitMs) {
          await pool.end().catch(() => undefined);
          throw new StriatumError('STRIATUM_ERR_STORE', `rollout store ${store.location} not reachable: ${message}`);
        }
        o.logger.error('rollout store not reachable; retrying (robots keep their chunks spooled until it is)', { store: store.location, error: message, retry_ms: delay });
        await new Promise((r) => setTimeout(r, delay));
        waited += delay;
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  private async migrate(readonly: boolean): Promise<void> {
    const client = await this.pool.connect();
    try {
      if (readonly) {
        const t = await client.query<{ v: number | null }>("SELECT CASE WHEN to_regclass('striatum_schema') IS NULL THEN NULL ELSE (SELECT max(version) FROM striatum_schema) END AS v");
        const v = t.rows[0].v;
        if (v === null) throw new StriatumError('STRIATUM_ERR_IO', `${this.location} is not a Striatum rollout store`);
        this.checkVersion(v);
        return;
      }
      await client.query('SELECT pg_advisory_lock($1)', [LOCK_MIGRATE]);
      try {
        await client.query('CREATE TABLE IF NOT EXISTS striatum_schema (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())');
        const r = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM striatum_schema');
        const current = r.rows[0].v ?? 0;
        this.checkVersion(current);
        for (const m of PG_MIGRATIONS) {
          if (m.version <= current) continue;
          await client.query('BEGIN');
          try {
            await client.query(m.sql);
            await client.query('INSERT INTO striatum_schema (version) VALUES ($1)', [m.version]);
            await client.query('COMMIT');
          } catch (err) {
            await client.query('ROLLBACK').catch(() => undefined);
            throw new StriatumError('STRIATUM_ERR_STORE', `rollout store ${this.location}: migration ${m.version} failed: ${(err as Error).message}`);
          }
        }
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [LOCK_MIGRATE]).catch(() => undefined);
      }
    } finally {
      client.release();
    }
  }

  private checkVersion(v: number): void {
    if (v > PG_SCHEMA_VERSION) {
      throw new StriatumError('STRIATUM_ERR_STORE_SCHEMA', `rollout store ${this.location} has schema ${v}; this updater knows up to ${PG_SCHEMA_VERSION} and never downgrades a store (upgrade the updater)`);
    }
  }

  async storeChunks(batch: readonly IncomingChunk[]): Promise<StoreResult[]> {
    const order = batch.map((b, i) => ({ b, i, key: sortKey(b) })).sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
    const receivedAt = new Date().toISOString();
    const values: unknown[] = [];
    for (const { b } of order) {
      const r = chunkRow(b.chunk, b.wireBytes, receivedAt);
      values.push(r.robot, r.episode, r.chunk, r.n, r.first_step, r.last_step, r.final === 1, r.outcome, r.end_reason, r.skipped_steps,
        r.policy_version, r.task, r.instruction, r.compression, r.body_bytes, r.wire_bytes, r.received_at, r.header, r.body);
    }
    let text = batchSql.get(order.length);
    if (text === undefined) { text = storeBatchSql(order.length); batchSql.set(order.length, text); }
    // One statement is one transaction (autocommit): the chunks and their episode rows commit together.
    const q = await this.pool.query<{ robot: string; episode: string; chunk: number; completed: boolean | null }>({ name: `striatum_store_batch_${order.length}`, text, values });
    const inserted = new Map<string, boolean>();
    for (const row of q.rows) inserted.set(`${row.robot}\u0000${row.episode}\u0000${row.chunk}`, row.completed === true);
    const results = new Array<StoreResult>(batch.length);
    for (const { b, i } of order) {
      const h = b.chunk.header;
      const k = `${h.robot}\u0000${h.episode}\u0000${h.chunk}`;
      const completed = inserted.get(k);
      // A key twice in one batch (a resend that arrived while the first was queued): the first is stored.
      if (completed === undefined) results[i] = { status: 'duplicate', completed: false };
      else { results[i] = { status: 'stored', completed }; inserted.delete(k); }
    }
    return results;
  }

  async episode(robot: string, episode: string): Promise<EpisodeRow | null> {
    const r = await this.pool.query<EpisodeRow>(`SELECT ${EPISODE_COLUMNS} FROM episodes WHERE robot = $1 AND episode = $2`, [robot, episode]);
    return r.rows[0] ?? null;
  }

  async listEpisodes(filter: { robot?: string; complete?: boolean } = {}): Promise<EpisodeRow[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.robot !== undefined) { args.push(filter.robot); where.push(`robot = $${args.length}`); }
    if (filter.complete !== undefined) { args.push(filter.complete); where.push(`complete = $${args.length}`); }
    const sql = `SELECT ${EPISODE_COLUMNS} FROM episodes ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY first_received_at, robot, episode`;
    return (await this.pool.query<EpisodeRow>(sql, args)).rows;
  }

  async totals(): Promise<StoreTotals> {
    const c = await this.pool.query<{ chunks: number; steps: number; bytes: number }>(
      'SELECT count(*)::float8 AS chunks, COALESCE(sum(n), 0)::float8 AS steps, COALESCE(sum(wire_bytes), 0)::float8 AS bytes FROM chunks');
    const e = await this.pool.query<{ episodes: number; complete: number }>(
      'SELECT count(*)::float8 AS episodes, count(*) FILTER (WHERE complete)::float8 AS complete FROM episodes');
    return { chunks: c.rows[0].chunks, episodes: e.rows[0].episodes, complete: e.rows[0].complete, steps: c.rows[0].steps, bodyBytes: c.rows[0].bytes };
  }

  async exportEpisode(robot: string, episode: string, options: { requireComplete?: boolean } = {}): Promise<ExportedEpisode> {
    const row = await this.episode(robot, episode);
    const refused = exportRefusal(row, robot, episode, this.location, options.requireComplete ?? true);
    if (refused !== null || row === null) throw refused;
    const rows = await this.pool.query<{ header: string; body: Buffer }>('SELECT header, body FROM chunks WHERE robot = $1 AND episode = $2 ORDER BY chunk', [robot, episode]);
    return assembleEpisode(row, rows.rows);
  }

  /**
   * A session-level advisory lock on its own connection, held for the whole round: one round at a time across
   * every updater of this store. Should that connection die mid-round, the server drops the lock; the round
   * numbers stay unique either way (a sequence).
   */
  async withTrainingLock<T>(fn: (round: number) => Promise<T>): Promise<TrainingLockResult<T>> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      const got = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [LOCK_TRAINING]);
      if (!got.rows[0].ok) return { held: false };
      try {
        const r = await client.query<{ round: number }>('INSERT INTO training_rounds DEFAULT VALUES RETURNING round');
        return { held: true, value: await fn(r.rows[0].round) };
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [LOCK_TRAINING]).catch(() => { broken = true; });
      }
    } catch (err) {
      broken = true;
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

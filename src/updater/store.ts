// The episode store: SQLite (better-sqlite3), WAL, synchronous=FULL, one transaction per chunk. A chunk is
// keyed by (robot, episode, chunk), so storing it twice is a no-op that reports "duplicate": robots resend
// freely. The episodes table is derived from the chunks table (refreshEpisode) and can always be rebuilt from
// it, which is also what makes merging two stores safe.
//
// A chunk's body is kept exactly as it arrived (MessagePack columns, compressed or not) with its header as
// JSON beside it; exportEpisode() decodes and concatenates the columns for training.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import {
  REWARD_COMPONENTS, decodeStoredBody, type CheckedRolloutChunk, type RewardComponent, type RolloutColumns,
  type RolloutHeader, type RolloutLayout,
} from '../contracts/rollout.js';
import { StriatumError } from '../errors.js';
import { encodeNpy } from '../util/npy.js';
import type { EpisodeStore, IncomingChunk, TrainingLockResult } from './episode-store.js';

export const STORE_SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
  robot TEXT NOT NULL, episode TEXT NOT NULL, chunk INTEGER NOT NULL,
  n INTEGER NOT NULL, first_step INTEGER, last_step INTEGER,
  final INTEGER NOT NULL, outcome TEXT, end_reason TEXT, skipped_steps INTEGER NOT NULL,
  policy_version TEXT, task TEXT NOT NULL, instruction TEXT NOT NULL,
  compression TEXT NOT NULL, body_bytes INTEGER NOT NULL, wire_bytes INTEGER NOT NULL, received_at TEXT NOT NULL,
  header TEXT NOT NULL,
  -- Last, so the per-episode aggregates never read a row's overflow pages.
  body BLOB NOT NULL,
  PRIMARY KEY (robot, episode, chunk)
);
CREATE TABLE IF NOT EXISTS episodes (
  robot TEXT NOT NULL, episode TEXT NOT NULL,
  task TEXT NOT NULL, instruction TEXT NOT NULL, policy_version TEXT,
  chunks INTEGER NOT NULL, steps INTEGER NOT NULL, skipped_steps INTEGER NOT NULL,
  final_chunk INTEGER, outcome TEXT, end_reason TEXT, complete INTEGER NOT NULL,
  first_received_at TEXT NOT NULL, last_received_at TEXT NOT NULL,
  PRIMARY KEY (robot, episode)
);
CREATE INDEX IF NOT EXISTS episodes_by_state ON episodes (complete, robot);
`;

export interface EpisodeRow {
  robot: string;
  episode: string;
  task: string;
  instruction: string;
  policy_version: string | null;
  chunks: number;
  steps: number;
  skipped_steps: number;
  final_chunk: number | null;
  outcome: string | null;
  end_reason: string | null;
  complete: boolean;
  first_received_at: string;
  last_received_at: string;
}

export interface StoreResult {
  readonly status: 'stored' | 'duplicate';
  /** The episode became complete with this chunk. */
  readonly completed: boolean;
}

export interface ExportedEpisode {
  readonly robot: string;
  readonly episode: string;
  readonly task: string;
  readonly instruction: string;
  readonly policyVersions: (string | null)[];
  /** Each stored chunk's policy version and step count, in chunk order (a version per step, run-length coded). */
  readonly chunkPolicies: { readonly policyVersion: string | null; readonly steps: number }[];
  readonly outcome: string | null;
  readonly complete: boolean;
  readonly layout: RolloutLayout;
  readonly steps: number;
  readonly skippedSteps: number;
  readonly stampOriginUnixMs: number | null;
  readonly columns: RolloutColumns;
}

export interface StoreTotals { chunks: number; episodes: number; complete: number; steps: number; bodyBytes: number }

/** The columns of one chunk's row, the same in SQLite and PostgreSQL. */
export function chunkRow(chunk: CheckedRolloutChunk, wireBytes: number, receivedAt: string) {
  const h = chunk.header;
  const { body_bytes: _b, ...headerJson } = h;
  return {
    robot: h.robot, episode: h.episode, chunk: h.chunk, n: h.n,
    first_step: chunk.firstStep, last_step: chunk.lastStep,
    final: h.final ? 1 : 0, outcome: h.outcome, end_reason: h.end_reason, skipped_steps: h.skipped_steps,
    policy_version: h.policy_version, task: h.task, instruction: h.instruction, compression: h.compression,
    body_bytes: h.body_bytes, wire_bytes: wireBytes, header: JSON.stringify({ ...headerJson, body_bytes: h.body_bytes }),
    body: Buffer.from(chunk.body.buffer, chunk.body.byteOffset, chunk.body.byteLength), received_at: receivedAt,
  };
}

/** An episode's chunks (header JSON and stored body, in chunk order) decoded and concatenated for training. */
export function assembleEpisode(row: EpisodeRow, rows: readonly { header: string; body: Uint8Array }[]): ExportedEpisode {
  const { robot, episode } = row;
  const headers = rows.map((r) => JSON.parse(r.header) as RolloutHeader);
  const layout = headers[0].layout;
  const parts = rows.map((r, i) => {
    if (JSON.stringify(headers[i].layout) !== JSON.stringify(layout)) throw new StriatumError('STRIATUM_ERR_IO', `episode ${robot}/${episode}: chunk ${headers[i].chunk} has another column layout`);
    return decodeStoredBody(headers[i], r.body);
  });
  const cat = <T extends Float32Array | Int32Array | Uint8Array | Float64Array>(pick: (c: RolloutColumns) => T | null, make: (n: number) => T): T => {
    let total = 0;
    for (const p of parts) total += pick(p)?.length ?? 0;
    const out = make(total);
    let o = 0;
    for (const p of parts) {
      const a = pick(p);
      if (a === null) continue;
      out.set(a as never, o);
      o += a.length;
    }
    return out;
  };
  const reward = {} as Record<RewardComponent, Float32Array>;
  for (const k of REWARD_COMPONENTS) reward[k] = cat((c) => c.reward[k], (n) => new Float32Array(n));
  const columns: RolloutColumns = {
    observation: cat((c) => c.observation, (n) => new Float32Array(n)),
    action: cat((c) => c.action, (n) => new Float32Array(n)),
    actionMean: cat((c) => c.actionMean ?? c.action, (n) => new Float32Array(n)),
    logProb: cat((c) => c.logProb ?? new Float32Array(c.step.length).fill(Number.NaN), (n) => new Float32Array(n)),
    command: cat((c) => c.command, (n) => new Float32Array(n)),
    progress: cat((c) => c.progress, (n) => new Float32Array(n)),
    reward,
    flags: cat((c) => c.flags, (n) => new Uint8Array(n)),
    step: cat((c) => c.step, (n) => new Int32Array(n)),
    stampMs: cat((c) => c.stampMs, (n) => new Float64Array(n)),
    frames: layout.camera === null ? null : cat((c) => c.frames, (n) => new Uint8Array(n)),
    frameStep: layout.camera === null ? null : cat((c) => c.frameStep, (n) => new Int32Array(n)),
  };
  return {
    robot, episode, task: row.task, instruction: row.instruction, policyVersions: [...new Set(headers.map((h) => h.policy_version))],
    outcome: row.outcome, complete: row.complete, layout, steps: columns.step.length, skippedSteps: row.skipped_steps,
    chunkPolicies: headers.map((h) => ({ policyVersion: h.policy_version, steps: h.n })),
    stampOriginUnixMs: headers[0].stamp_origin_unix_ms, columns,
  };
}

/** The refusal of an export, the same for every engine. */
export function exportRefusal(row: EpisodeRow | null, robot: string, episode: string, where: string, requireComplete: boolean): StriatumError | null {
  if (row === null) return new StriatumError('STRIATUM_ERR_IO', `no episode ${robot}/${episode} in ${where}`);
  if (requireComplete && !row.complete) return new StriatumError('STRIATUM_ERR_IO', `episode ${robot}/${episode} is not complete (${row.chunks} chunks, final ${row.final_chunk ?? 'missing'})`);
  return null;
}

export class RolloutStore implements EpisodeStore {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly insertChunk: Database.Statement;
  private readonly episodeAggregate: Database.Statement;
  private readonly episodeFirst: Database.Statement;
  private readonly episodeFinal: Database.Statement;
  private readonly upsertEpisode: Database.Statement;
  private readonly wasComplete: Database.Statement;
  private readonly storeTx: (chunk: CheckedRolloutChunk, wireBytes: number) => StoreResult;
  private readonly storeBatchTx: (batch: readonly IncomingChunk[]) => StoreResult[];
  private trainingLocked = false;

  /**
   * An existing store, opened read-only: for the commands that only read (episodes, export). A missing path is
   * an error, never a new empty store (a mistyped --store must not look like a store with no episodes).
   */
  static openExisting(path: string): RolloutStore {
    if (!existsSync(path)) throw new StriatumError('STRIATUM_ERR_IO', `no rollout store at ${path} (check --store)`);
    return new RolloutStore(path, { readonly: true });
  }

  constructor(readonly path: string, options: { readonly?: boolean; readonly maxBytes?: number } = {}) {
    const readonly = options.readonly === true;
    if (path !== ':memory:' && !readonly) mkdirSync(dirname(path), { recursive: true });
    try {
      this.db = new Database(path, readonly ? { readonly: true, fileMustExist: true } : {});
    } catch (err) {
      throw new StriatumError('STRIATUM_ERR_IO', `rollout store ${path} cannot be opened: ${(err as Error).message}`);
    }
    const db = this.db;
    // Several updater processes on one machine may share the file; writers wait for each other.
    db.pragma('busy_timeout = 10000');
    if (readonly) {
      let meta: unknown;
      try {
        meta = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get();
      } catch (err) {
        db.close();
        throw new StriatumError('STRIATUM_ERR_IO', `${path} is not a Striatum rollout store: ${(err as Error).message}`);
      }
      if (meta === undefined) { db.close(); throw new StriatumError('STRIATUM_ERR_IO', `${path} is not a Striatum rollout store`); }
    } else {
      // 64 KiB pages (a new store; an existing one keeps its own): a ~96 KB chunk body fills 2 overflow pages
      // instead of 24, each of which the WAL writes with its own frame header, checksum and pwrite, and the
      // checkpoint reads and writes again. The store alone then commits ~2× the chunks per second
      // (bench/rollout-throughput, stages_alone.store_only). The WAL checkpoints at 1000 pages, now 64 MB.
      db.pragma('page_size = 65536');
      db.pragma('journal_mode = WAL');
      // FULL: the commit is on disk before the ack goes out, so a power cut cannot lose an acknowledged chunk.
      db.pragma('synchronous = FULL');
      // A size cap behaves as a full disk does: writes past it fail with SQLITE_FULL (ingest pauses, alarm).
      if (options.maxBytes !== undefined) db.pragma(`max_page_count = ${Math.max(1, Math.floor(options.maxBytes / (db.pragma('page_size', { simple: true }) as number)))}`);
      db.exec(SCHEMA);
    }
    const v = db.prepare('SELECT value FROM meta WHERE key = ?').get('schema_version') as { value: string } | undefined;
    if (v === undefined && readonly) { db.close(); throw new StriatumError('STRIATUM_ERR_IO', `${path} is not a Striatum rollout store`); }
    if (v === undefined) db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run('schema_version', String(STORE_SCHEMA_VERSION));
    else if (Number(v.value) !== STORE_SCHEMA_VERSION) throw new StriatumError('STRIATUM_ERR_IO', `rollout store ${path} has schema ${v.value}; this updater reads ${STORE_SCHEMA_VERSION}`);

    this.insertChunk = db.prepare(`INSERT OR IGNORE INTO chunks
      (robot, episode, chunk, n, first_step, last_step, final, outcome, end_reason, skipped_steps, policy_version, task, instruction,
       compression, body_bytes, wire_bytes, received_at, header, body)
      VALUES (@robot, @episode, @chunk, @n, @first_step, @last_step, @final, @outcome, @end_reason, @skipped_steps, @policy_version, @task,
       @instruction, @compression, @body_bytes, @wire_bytes, @received_at, @header, @body)`);
    this.episodeAggregate = db.prepare(`SELECT COUNT(*) AS chunks, SUM(n) AS steps, SUM(skipped_steps) AS skipped,
      MAX(CASE WHEN final = 1 THEN chunk END) AS final_chunk, MIN(received_at) AS first_at, MAX(received_at) AS last_at
      FROM chunks WHERE robot = ? AND episode = ?`);
    this.episodeFirst = db.prepare('SELECT task, instruction, policy_version FROM chunks WHERE robot = ? AND episode = ? ORDER BY chunk LIMIT 1');
    this.episodeFinal = db.prepare('SELECT outcome, end_reason FROM chunks WHERE robot = ? AND episode = ? AND chunk = ?');
    this.upsertEpisode = db.prepare(`INSERT OR REPLACE INTO episodes
      (robot, episode, task, instruction, policy_version, chunks, steps, skipped_steps, final_chunk, outcome, end_reason, complete, first_received_at, last_received_at)
      VALUES (@robot, @episode, @task, @instruction, @policy_version, @chunks, @steps, @skipped_steps, @final_chunk, @outcome, @end_reason, @complete, @first_received_at, @last_received_at)`);
    this.wasComplete = db.prepare('SELECT complete FROM episodes WHERE robot = ? AND episode = ?');

    const storeOne = (chunk: CheckedRolloutChunk, wireBytes: number): StoreResult => {
      const h = chunk.header;
      const info = this.insertChunk.run(chunkRow(chunk, wireBytes, new Date().toISOString()));
      if (info.changes === 0) return { status: 'duplicate', completed: false };
      const before = this.wasComplete.get(h.robot, h.episode) as { complete: number } | undefined;
      const now = this.refreshEpisode(h.robot, h.episode);
      return { status: 'stored', completed: now && before?.complete !== 1 };
    };
    // IMMEDIATE: take the write lock at BEGIN, so two updaters sharing the file never deadlock on upgrade.
    this.storeTx = db.transaction(storeOne).immediate;
    // A batch is one transaction (one fsync with synchronous=FULL), every chunk with its episode's bookkeeping.
    this.storeBatchTx = db.transaction((batch: readonly IncomingChunk[]) => batch.map((b) => storeOne(b.chunk, b.wireBytes))).immediate;
  }

  get location(): string { return this.path; }

  storeChunks(batch: readonly IncomingChunk[]): StoreResult[] {
    return this.storeBatchTx(batch);
  }

  /** SQLite serves one updater process: the lock is this process's, the round number is kept in meta. */
  async withTrainingLock<T>(fn: (round: number) => Promise<T>): Promise<TrainingLockResult<T>> {
    if (this.trainingLocked) return { held: false };
    this.trainingLocked = true;
    try {
      const row = this.db.prepare("SELECT value FROM meta WHERE key = 'training_round'").get() as { value: string } | undefined;
      const round = (row === undefined ? 0 : Number(row.value)) + 1;
      this.db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('training_round', ?)").run(String(round));
      return { held: true, value: await fn(round) };
    } finally {
      this.trainingLocked = false;
    }
  }

  /** Store one validated chunk (one transaction, durable on return). */
  storeChunk(chunk: CheckedRolloutChunk, wireBytes: number): StoreResult {
    return this.storeTx(chunk, wireBytes);
  }

  /** Recompute an episode's row from its chunks; returns whether it is complete. */
  refreshEpisode(robot: string, episode: string): boolean {
    const a = this.episodeAggregate.get(robot, episode) as { chunks: number; steps: number | null; skipped: number | null; final_chunk: number | null; first_at: string; last_at: string };
    if (a.chunks === 0) return false;
    const first = this.episodeFirst.get(robot, episode) as { task: string; instruction: string; policy_version: string | null };
    const fin = a.final_chunk === null ? undefined : this.episodeFinal.get(robot, episode, a.final_chunk) as { outcome: string | null; end_reason: string | null };
    const complete = a.final_chunk !== null && a.chunks === a.final_chunk + 1;
    this.upsertEpisode.run({
      robot, episode, task: first.task, instruction: first.instruction, policy_version: first.policy_version,
      chunks: a.chunks, steps: a.steps ?? 0, skipped_steps: a.skipped ?? 0, final_chunk: a.final_chunk,
      outcome: fin?.outcome ?? null, end_reason: fin?.end_reason ?? null, complete: complete ? 1 : 0,
      first_received_at: a.first_at, last_received_at: a.last_at,
    });
    return complete;
  }

  episode(robot: string, episode: string): EpisodeRow | null {
    const r = this.db.prepare('SELECT * FROM episodes WHERE robot = ? AND episode = ?').get(robot, episode) as (Omit<EpisodeRow, 'complete'> & { complete: number }) | undefined;
    return r === undefined ? null : { ...r, complete: r.complete === 1 };
  }

  listEpisodes(filter: { robot?: string; complete?: boolean } = {}): EpisodeRow[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.robot !== undefined) { where.push('robot = ?'); args.push(filter.robot); }
    if (filter.complete !== undefined) { where.push('complete = ?'); args.push(filter.complete ? 1 : 0); }
    const sql = `SELECT * FROM episodes ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY first_received_at, robot, episode`;
    return (this.db.prepare(sql).all(...args) as (Omit<EpisodeRow, 'complete'> & { complete: number })[]).map((r) => ({ ...r, complete: r.complete === 1 }));
  }

  totals(): StoreTotals {
    const c = this.db.prepare('SELECT COUNT(*) AS chunks, COALESCE(SUM(n), 0) AS steps, COALESCE(SUM(wire_bytes), 0) AS bytes FROM chunks').get() as { chunks: number; steps: number; bytes: number };
    const e = this.db.prepare('SELECT COUNT(*) AS episodes, COALESCE(SUM(complete), 0) AS complete FROM episodes').get() as { episodes: number; complete: number };
    return { chunks: c.chunks, episodes: e.episodes, complete: e.complete, steps: c.steps, bodyBytes: c.bytes };
  }

  /** Every stored step of one episode, columns concatenated in chunk order. */
  exportEpisode(robot: string, episode: string, options: { requireComplete?: boolean } = {}): ExportedEpisode {
    const row = this.episode(robot, episode);
    const refused = exportRefusal(row, robot, episode, this.path, options.requireComplete ?? true);
    if (refused !== null || row === null) throw refused;
    const rows = this.db.prepare('SELECT header, body FROM chunks WHERE robot = ? AND episode = ? ORDER BY chunk').all(robot, episode) as { header: string; body: Buffer }[];
    return assembleEpisode(row, rows);
  }

  /** Copy every chunk of another store into this one (idempotent) and rebuild the affected episodes. */
  mergeFrom(otherPath: string): { chunks: number; episodes: number } {
    this.db.prepare('ATTACH DATABASE ? AS other').run(otherPath);
    try {
      return this.db.transaction(() => {
        const info = this.db.prepare('INSERT OR IGNORE INTO chunks SELECT * FROM other.chunks').run();
        const eps = this.db.prepare('SELECT DISTINCT robot, episode FROM other.chunks').all() as { robot: string; episode: string }[];
        for (const e of eps) this.refreshEpisode(e.robot, e.episode);
        return { chunks: info.changes, episodes: eps.length };
      }).immediate();
    } finally {
      this.db.prepare('DETACH DATABASE other').run();
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/**
 * Write an exported episode for the trainer: float32/int32 .npy arrays and meta.json (frames, when recorded,
 * as raw uint8 in frames.u8 with their shape in meta.json).
 */
export function writeEpisodeNpy(ex: ExportedEpisode, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const n = ex.steps;
  const obs = ex.layout.observation.reduce((s, f) => s + f.size, 0);
  const act = ex.layout.joints.length;
  const files: [string, Buffer][] = [
    // The names `striatum record` and the training snapshot use: actions.npy holds the commands the robot wrote
    // (after the safety filter), what trainer/bc.py and trainer/awr.py learn from; the policy's own output,
    // before the filter, is policy_actions.npy.
    ['observations.npy', encodeNpy(ex.columns.observation, [n, obs])],
    ['actions.npy', encodeNpy(ex.columns.command, [n, act])],
    ['policy_actions.npy', encodeNpy(ex.columns.action, [n, act])],
    ['progress.npy', encodeNpy(ex.columns.progress, [n])],
    ['flags.npy', encodeNpy(Int32Array.from(ex.columns.flags), [n])],
    ['step.npy', encodeNpy(ex.columns.step, [n])],
    // Seconds since the episode's first step: float32 keeps 1 ms resolution for over four hours.
    ['time_s.npy', encodeNpy(Float32Array.from(ex.columns.stampMs, (t) => (t - (ex.columns.stampMs[0] ?? 0)) / 1000), [n])],
  ];
  for (const k of REWARD_COMPONENTS) files.push([`reward_${k}.npy`, encodeNpy(ex.columns.reward[k], [n])]);
  const cam = ex.layout.camera;
  if (cam !== null && ex.columns.frames !== null && ex.columns.frameStep !== null) {
    files.push(['frames.u8', Buffer.from(ex.columns.frames.buffer, ex.columns.frames.byteOffset, ex.columns.frames.byteLength)]);
    files.push(['frame_step.npy', encodeNpy(ex.columns.frameStep, [ex.columns.frameStep.length])]);
  }
  const meta = {
    format: 'striatum.episode/v1', robot: ex.robot, episode: ex.episode, task: ex.task, instruction: ex.instruction,
    outcome: ex.outcome, complete: ex.complete, steps: n, skipped_steps: ex.skippedSteps, policy_versions: ex.policyVersions,
    layout: ex.layout, reward_components: REWARD_COMPONENTS, stamp_origin_unix_ms: ex.stampOriginUnixMs,
    first_stamp_ms: n > 0 ? ex.columns.stampMs[0] : null,
    flags: { done: 1, truncated: 2, no_reward: 4, intervention: 8, prm_done: 16 },
    frames: cam === null ? null : { file: 'frames.u8', shape: [ex.columns.frameStep?.length ?? 0, cam.height, cam.width, cam.channels], dtype: 'uint8' },
  };
  files.push(['meta.json', Buffer.from(`${JSON.stringify(meta, null, 2)}\n`)]);
  for (const [name, data] of files) writeFileSync(join(dir, name), data);
  return files.map(([name]) => name);
}

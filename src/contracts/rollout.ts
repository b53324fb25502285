// Rollout chunks (robot → updater, MessagePack, binary) and their end-to-end acks (updater → robot, JSON).
// Encoder and decoder side by side, no I/O. The updater decodes every chunk here, at the edge: size cap first,
// then MessagePack with bounded lengths, then the version, then zod, then every column's length against the
// layout. Nothing in a chunk is executed or deserialized into objects beyond plain maps, strings and bytes.
//
// Wire layout (a MessagePack map; multi-byte numbers in every column are little-endian):
//   v, robot, episode, chunk, policy_version, task, instruction, stamp, stamp_origin_unix_ms,
//   layout {observation [{name,size}], joints [..], reward [..], camera {name,width,height,channels} | nil},
//   n (steps in this chunk), skipped_steps (steps not recorded just before this chunk), final, outcome,
//   end_reason, compression (none | gzip | zstd), body_bytes (uncompressed body size), body (bytes).
// body, once decompressed, is a MessagePack map of columns, each a byte string holding a typed array:
//   observation f32[n·obs]  action f32[n·act] (policy output before safety)  command f32[n·act] (written)
//   action_mean f32[n·act] (a stochastic policy's mean; `action` is its sample)  log_prob f32[n] (log π(action|s),
//   NaN where the mean ran); both optional on the wire: a chunk without them decodes with mean = action, NaN
//   progress f32[n] (the environment's progress, NaN where unknown)
//   reward {raw_progress, potential, next_potential, shaping, gold, task, intrinsic, total}: f32[n] each, NaN
//   where the step had no reward record; flags u8[n] (FLAG_* bits); step i32[n]; stamp_ms f64[n];
//   frames u8[m·h·w·c] | nil; frame_step i32[m] | nil (the step index of each frame).
import * as zlib from 'node:zlib';
import { Encoder, decode } from '@msgpack/msgpack';
import { z } from 'zod';
import { END_REASON_MAX, EPISODE_OUTCOMES, type EpisodeOutcome as CoreEpisodeOutcome } from '../control/step.js';
import { StriatumError } from '../errors.js';

export const ROLLOUT_VERSION = 1;

/** Reward components recorded for every step, in this order, named as in the wire format. */
export const REWARD_COMPONENTS = [
  'raw_progress', 'potential', 'next_potential', 'shaping', 'gold', 'task', 'intrinsic', 'total',
] as const;
export type RewardComponent = (typeof REWARD_COMPONENTS)[number];

/** Bits of the per-step flags column. */
export const FLAG_DONE = 1;
export const FLAG_TRUNCATED = 2;
export const FLAG_NO_REWARD = 4;
export const FLAG_INTERVENTION = 8;
/** The reward composer's done detector fired (PRM hysteresis), as opposed to the environment's own success. */
export const FLAG_PRM_DONE = 16;

/** Largest chunk the updater accepts, in bytes on the wire, unless configured otherwise. */
export const DEFAULT_MAX_CHUNK_BYTES = 8 * 1024 * 1024;
/** Largest decompressed body, as a multiple of the wire cap (bounds a decompression bomb). */
export const MAX_BODY_EXPANSION = 8;
/** Most steps one chunk may carry. */
export const MAX_CHUNK_STEPS = 65_536;

export const RolloutCompressionSchema = z.enum(['none', 'gzip', 'zstd']);
export type RolloutCompression = z.infer<typeof RolloutCompressionSchema>;

/** zstd is in node:zlib from Node 22.15/23.8; Node 20 has none and gzip only. */
export function compressionAvailable(c: RolloutCompression): boolean {
  if (c !== 'zstd') return true;
  return typeof (zlib as unknown as Record<string, unknown>).zstdCompressSync === 'function';
}

export const EpisodeOutcomeSchema = z.enum(EPISODE_OUTCOMES);
export type EpisodeOutcome = CoreEpisodeOutcome;

/** `<run id>:<episode index>`: the run id is a fresh UUID per robot process, so ids survive restarts unique. */
export const EPISODE_ID_PATTERN = /^[A-Za-z0-9-]{1,64}:[0-9]{1,12}$/;
const RobotIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

export const RolloutLayoutSchema = z.strictObject({
  observation: z.array(z.strictObject({ name: z.string().min(1).max(64), size: z.int().min(1).max(4096) })).max(64),
  joints: z.array(z.string().min(1).max(64)).min(1).max(64),
  reward: z.array(z.enum(REWARD_COMPONENTS)).max(REWARD_COMPONENTS.length),
  camera: z.strictObject({
    name: z.string().min(1).max(64),
    width: z.int().min(1).max(4096),
    height: z.int().min(1).max(4096),
    channels: z.union([z.literal(1), z.literal(3)]),
  }).nullable(),
});
export type RolloutLayout = z.infer<typeof RolloutLayoutSchema>;

const BytesSchema = z.instanceof(Uint8Array);

export const RolloutHeaderSchema = z.strictObject({
  v: z.literal(ROLLOUT_VERSION),
  robot: RobotIdSchema,
  episode: z.string().regex(EPISODE_ID_PATTERN, 'must be <run id>:<index>'),
  chunk: z.int().min(0).max(0x7fffffff),
  policy_version: z.string().max(128).nullable(),
  task: z.string().max(128),
  instruction: z.string().max(2000),
  stamp: z.string().max(40).describe('ISO-8601 wall time the chunk was cut'),
  stamp_origin_unix_ms: z.number().nullable().describe('Unix ms of stamp_ms = 0 (realtime clock), null for virtual time'),
  layout: RolloutLayoutSchema,
  n: z.int().min(0).max(MAX_CHUNK_STEPS),
  skipped_steps: z.int().min(0).describe('steps the robot did not record just before this chunk (spool full or stalled)'),
  final: z.boolean(),
  outcome: EpisodeOutcomeSchema.nullable(),
  end_reason: z.string().max(END_REASON_MAX).nullable(),
  compression: RolloutCompressionSchema,
  body_bytes: z.int().min(0),
}).refine((h) => h.final === (h.outcome !== null), { message: 'outcome is set exactly on the final chunk', path: ['outcome'] });
export type RolloutHeader = z.infer<typeof RolloutHeaderSchema>;

const RewardBodySchema = z.strictObject(Object.fromEntries(REWARD_COMPONENTS.map((k) => [k, BytesSchema.optional()])) as Record<RewardComponent, z.ZodOptional<typeof BytesSchema>>);

export const RolloutBodySchema = z.strictObject({
  observation: BytesSchema,
  action: BytesSchema,
  action_mean: BytesSchema.optional(),
  log_prob: BytesSchema.optional(),
  command: BytesSchema,
  progress: BytesSchema,
  reward: RewardBodySchema,
  flags: BytesSchema,
  step: BytesSchema,
  stamp_ms: BytesSchema,
  frames: BytesSchema.nullable(),
  frame_step: BytesSchema.nullable(),
});

/** Columns of one chunk as typed arrays (row-major: step-major, field-minor). */
export interface RolloutColumns {
  observation: Float32Array;
  action: Float32Array;
  /** A stochastic policy's mean action (decoded chunks always have it: `action` when the robot sent none). */
  actionMean?: Float32Array;
  /** log π(action | observation) per step, NaN where the mean ran (decoded: NaN when the robot sent none). */
  logProb?: Float32Array;
  command: Float32Array;
  progress: Float32Array;
  reward: Record<RewardComponent, Float32Array>;
  flags: Uint8Array;
  step: Int32Array;
  stampMs: Float64Array;
  frames: Uint8Array | null;
  frameStep: Int32Array | null;
}

/** What the robot encodes: the header without the body fields, and the columns (views of the filled rows). */
export type RolloutHeaderInput = Omit<RolloutHeader, 'body_bytes' | 'compression'>;

export function observationDim(layout: RolloutLayout): number {
  let d = 0;
  for (const f of layout.observation) d += f.size;
  return d;
}

export function frameBytes(layout: RolloutLayout): number {
  const c = layout.camera;
  return c === null ? 0 : c.width * c.height * c.channels;
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function compress(body: Uint8Array, c: RolloutCompression): Uint8Array {
  if (c === 'none') return body;
  if (c === 'gzip') return zlib.gzipSync(body, { level: 1 });
  const z2 = zlib as unknown as { zstdCompressSync(b: Uint8Array): Buffer };
  return z2.zstdCompressSync(body);
}

function decompress(body: Uint8Array, c: RolloutCompression, expected: number): Uint8Array {
  if (c === 'none') return body;
  // maxOutputLength bounds a decompression bomb to what the header declared (itself capped).
  if (c === 'gzip') return zlib.gunzipSync(body, { maxOutputLength: Math.max(1, expected) });
  const z2 = zlib as unknown as { zstdDecompressSync(b: Uint8Array, o: { maxOutputLength: number }): Buffer };
  return z2.zstdDecompressSync(body, { maxOutputLength: Math.max(1, expected) });
}

/** Encode a chunk for the wire. Sync (runs in the spool worker, never on the control tick). */
export function encodeRolloutChunk(header: RolloutHeaderInput, columns: RolloutColumns, compression: RolloutCompression): Uint8Array {
  const reward: Record<string, Uint8Array> = {};
  for (const k of header.layout.reward) reward[k] = bytesOf(columns.reward[k]);
  const sampled: Record<string, Uint8Array> = {};
  if (columns.actionMean !== undefined) sampled.action_mean = bytesOf(columns.actionMean);
  if (columns.logProb !== undefined) sampled.log_prob = bytesOf(columns.logProb);
  const body = bodyEncoder.encodeSharedRef({
    observation: bytesOf(columns.observation),
    action: bytesOf(columns.action),
    ...sampled,
    command: bytesOf(columns.command),
    progress: bytesOf(columns.progress),
    reward,
    flags: bytesOf(columns.flags),
    step: bytesOf(columns.step),
    stamp_ms: bytesOf(columns.stampMs),
    frames: columns.frames === null ? null : bytesOf(columns.frames),
    frame_step: columns.frameStep === null ? null : bytesOf(columns.frameStep),
  });
  const packed = compress(body, compression);
  return chunkEncoder.encode({ ...header, compression, body_bytes: body.byteLength, body: packed });
}

// Reused (one per thread that encodes, in practice the spool worker): their buffers grow once to a chunk's size
// instead of doubling from 2 KiB for every chunk. The body is a view into bodyEncoder's buffer, copied once
// into the chunk; the chunk itself is a fresh copy (it is transferred).
const bodyEncoder = new Encoder({ initialBufferSize: 64 * 1024 });
const chunkEncoder = new Encoder({ initialBufferSize: 64 * 1024 });

// ---------------------------------------------------------------------------------------------------------------
// Decoding at the updater's edge.

export const RejectCodeSchema = z.enum(['oversized', 'malformed', 'version', 'invalid', 'unsupported', 'robot_mismatch']);
export type RejectCode = z.infer<typeof RejectCodeSchema>;

/** A chunk validated as decodeRolloutChunk validates it, without its columns materialised: what a store needs. */
export interface CheckedRolloutChunk {
  readonly header: RolloutHeader;
  /** The body exactly as received (still compressed): what the store keeps. */
  readonly body: Uint8Array;
  /** The step column's first and last entries (null for an empty chunk). */
  readonly firstStep: number | null;
  readonly lastStep: number | null;
}

export interface DecodedRolloutChunk extends CheckedRolloutChunk {
  readonly columns: RolloutColumns;
}

/** What could be read of a rejected chunk's identity, so the robot can be told which one was refused. */
export interface ChunkIdentity { robot: string; episode: string; chunk: number }

export type Rejected = { ok: false; code: RejectCode; error: string; identity: ChunkIdentity | null };
export type DecodeResult = { ok: true; value: DecodedRolloutChunk } | Rejected;
export type CheckResult = { ok: true; value: CheckedRolloutChunk } | Rejected;

export interface DecodeLimits {
  readonly maxBytes: number;
}

function reject(code: RejectCode, error: string, identity: ChunkIdentity | null = null): Rejected {
  return { ok: false, code, error, identity };
}

function identityOf(raw: Record<string, unknown>): ChunkIdentity | null {
  const { robot, episode, chunk } = raw;
  if (typeof robot !== 'string' || typeof episode !== 'string' || typeof chunk !== 'number') return null;
  if (!RobotIdSchema.safeParse(robot).success || !EPISODE_ID_PATTERN.test(episode) || !Number.isInteger(chunk) || chunk < 0) return null;
  return { robot, episode, chunk };
}

/** Bytes of a chunk's head looked at to name a chunk that cannot be decoded whole. */
const PEEK_BYTES = 4096;

/**
 * The identity of a chunk that is too big or too damaged to decode, read from its first bytes: the encoder writes
 * v, robot, episode and chunk first. Reads only scalars (strings, integers, nil, booleans, floats) and stops at
 * anything else or at the end of the first PEEK_BYTES; never throws.
 */
export function peekChunkIdentity(payload: Uint8Array): ChunkIdentity | null {
  const end = Math.min(payload.byteLength, PEEK_BYTES);
  const b = payload;
  let p = 0;
  const u = (n: number): number | null => {
    if (p + n > end) return null;
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + b[p + i];
    p += n;
    return v;
  };
  const str = (len: number | null): string | null => {
    if (len === null || p + len > end) return null;
    const out = Buffer.from(b.buffer, b.byteOffset + p, len).toString('utf8');
    p += len;
    return out;
  };
  /** A scalar value, or undefined when the value is not one (or runs past the bytes looked at). */
  const scalar = (): string | number | boolean | null | undefined => {
    const t = u(1);
    if (t === null) return undefined;
    if (t <= 0x7f) return t;
    if (t >= 0xe0) return t - 0x100;
    if (t >= 0xa0 && t <= 0xbf) return str(t - 0xa0) ?? undefined;
    switch (t) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xcc: return u(1) ?? undefined;
      case 0xcd: return u(2) ?? undefined;
      case 0xce: return u(4) ?? undefined;
      case 0xd9: return str(u(1)) ?? undefined;
      case 0xda: return str(u(2)) ?? undefined;
      case 0xca: return u(4) === null ? undefined : Number.NaN;
      case 0xcb: return u(8) === null ? undefined : Number.NaN;
      default: return undefined;
    }
  };
  const t = u(1);
  if (t === null) return null;
  let entries: number | null;
  if (t >= 0x80 && t <= 0x8f) entries = t - 0x80;
  else if (t === 0xde) entries = u(2);
  else if (t === 0xdf) entries = u(4);
  else return null;
  if (entries === null) return null;
  const found: Record<string, unknown> = {};
  for (let i = 0; i < entries; i++) {
    const key = scalar();
    if (typeof key !== 'string') break;
    const value = scalar();
    if (value === undefined) break;
    found[key] = value;
    if ('robot' in found && 'episode' in found && 'chunk' in found) break;
  }
  return identityOf(found);
}

function firstIssue(error: z.ZodError): string {
  const first = error.issues[0];
  const where = first && first.path.length > 0 ? first.path.join('.') : '(top level)';
  return `${where}: ${first?.message ?? 'invalid'}`;
}

/**
 * An aligned copy of `bytes` as a typed array, or null when the length is not `count` elements. With `copy`
 * false only the length is checked, and the answer is an empty array (the check-only path allocates nothing).
 */
function typed<T>(bytes: Uint8Array, count: number, width: number, make: (b: ArrayBuffer) => T, copy = true): T | null {
  if (bytes.byteLength !== count * width) return null;
  if (!copy) return make(NO_BYTES);
  const out = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(out).set(bytes);
  return make(out);
}
const NO_BYTES = new ArrayBuffer(0);

/** Decode and validate one chunk; never throws. */
export function decodeRolloutChunk(payload: Uint8Array, limits: DecodeLimits): DecodeResult {
  return decodeChunk(payload, limits, true) as DecodeResult;
}

/**
 * Validate one chunk exactly as decodeRolloutChunk does, without copying its columns out (the updater's ingest:
 * the store keeps the body as received and needs only the step column's ends); never throws.
 */
export function checkRolloutChunk(payload: Uint8Array, limits: DecodeLimits): CheckResult {
  return decodeChunk(payload, limits, false);
}

function decodeChunk(payload: Uint8Array, limits: DecodeLimits, copy: boolean): DecodeResult | CheckResult {
  if (payload.byteLength > limits.maxBytes) return reject('oversized', `chunk of ${payload.byteLength} bytes exceeds ${limits.maxBytes}`);
  let raw: unknown;
  try {
    raw = decode(payload, { maxStrLength: 4096, maxBinLength: limits.maxBytes, maxArrayLength: 4096, maxMapLength: 64, maxExtLength: 0 });
  } catch (err) {
    return reject('malformed', `not MessagePack: ${(err as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || raw instanceof Uint8Array) return reject('malformed', 'chunk is not a map');
  const map = raw as Record<string, unknown>;
  const identity = identityOf(map);
  if (map.v !== ROLLOUT_VERSION) return reject('version', `unknown rollout version ${JSON.stringify(map.v ?? null)} (this updater reads ${ROLLOUT_VERSION})`, identity);
  const body = map.body;
  if (!(body instanceof Uint8Array)) return reject('invalid', 'body: expected bytes', identity);
  const { body: _b, ...rest } = map;
  const parsed = RolloutHeaderSchema.safeParse(rest);
  if (!parsed.success) return reject('invalid', firstIssue(parsed.error), identity);
  const header = parsed.data;
  if (!compressionAvailable(header.compression)) return reject('unsupported', `compression ${header.compression} is not available in this Node.js`, identity);
  const maxBody = limits.maxBytes * MAX_BODY_EXPANSION;
  if (header.body_bytes > maxBody) return reject('oversized', `body of ${header.body_bytes} bytes exceeds ${maxBody}`, identity);

  const columns = decodeBody(header, body, copy);
  if (!columns.ok) return reject(columns.code, columns.error, identity);
  const { firstStep, lastStep } = columns;
  return copy ? { ok: true, value: { header, body, columns: columns.value, firstStep, lastStep } } : { ok: true, value: { header, body, firstStep, lastStep } };
}

export type BodyResult = { ok: true; value: RolloutColumns } | { ok: false; code: RejectCode; error: string };

/** Decompress and decode a chunk body against its (already validated) header; never throws. */
export function decodeRolloutBody(header: RolloutHeader, body: Uint8Array): BodyResult {
  const r = decodeBody(header, body, true);
  return r.ok ? { ok: true, value: r.value } : r;
}

type BodyCheck = { ok: true; value: RolloutColumns; firstStep: number | null; lastStep: number | null } | { ok: false; code: RejectCode; error: string };

/** decodeRolloutBody; with `copy` false every column is checked but none copied out (the columns come back empty). */
function decodeBody(header: RolloutHeader, body: Uint8Array, copy: boolean): BodyCheck {
  const fail = (code: RejectCode, error: string): BodyCheck => ({ ok: false, code, error });
  let plain: Uint8Array;
  try {
    plain = decompress(body, header.compression, header.body_bytes);
  } catch (err) {
    return fail('malformed', `body does not decompress (${header.compression}): ${(err as Error).message}`);
  }
  if (plain.byteLength !== header.body_bytes) return fail('invalid', `body is ${plain.byteLength} bytes, header says ${header.body_bytes}`);
  let rawBody: unknown;
  try {
    rawBody = decode(plain, { maxStrLength: 64, maxBinLength: Math.max(plain.byteLength, 1), maxArrayLength: 0, maxMapLength: 16, maxExtLength: 0 });
  } catch (err) {
    return fail('malformed', `body is not MessagePack: ${(err as Error).message}`);
  }
  const cols = RolloutBodySchema.safeParse(rawBody);
  if (!cols.success) return fail('invalid', `body.${firstIssue(cols.error)}`);
  const c = cols.data;

  const n = header.n;
  const layout = header.layout;
  const obs = observationDim(layout);
  const act = layout.joints.length;
  const f32 = (b: ArrayBuffer) => new Float32Array(b);
  const bad = (name: string, bytes: Uint8Array, want: number) =>
    fail('invalid', `column ${name} has ${bytes.byteLength} bytes, expected ${want} for n=${n}`);

  const observation = typed(c.observation, n * obs, 4, f32, copy);
  if (observation === null) return bad('observation', c.observation, n * obs * 4);
  const action = typed(c.action, n * act, 4, f32, copy);
  if (action === null) return bad('action', c.action, n * act * 4);
  let actionMean = action;
  if (c.action_mean !== undefined) {
    const m = typed(c.action_mean, n * act, 4, f32, copy);
    if (m === null) return bad('action_mean', c.action_mean, n * act * 4);
    actionMean = m;
  }
  let logProb: Float32Array;
  if (c.log_prob !== undefined) {
    const l = typed(c.log_prob, n, 4, f32, copy);
    if (l === null) return bad('log_prob', c.log_prob, n * 4);
    logProb = l;
  } else {
    logProb = copy ? new Float32Array(n).fill(Number.NaN) : new Float32Array(0);
  }
  const command = typed(c.command, n * act, 4, f32, copy);
  if (command === null) return bad('command', c.command, n * act * 4);
  const progress = typed(c.progress, n, 4, f32, copy);
  if (progress === null) return bad('progress', c.progress, n * 4);
  const reward = {} as Record<RewardComponent, Float32Array>;
  for (const k of REWARD_COMPONENTS) {
    const b = c.reward[k];
    if (!layout.reward.includes(k)) {
      if (b !== undefined) return fail('invalid', `column reward.${k} is not in the layout`);
      reward[k] = copy ? new Float32Array(n).fill(Number.NaN) : new Float32Array(0);
      continue;
    }
    if (b === undefined) return fail('invalid', `column reward.${k} is missing`);
    const a = typed(b, n, 4, f32, copy);
    if (a === null) return bad(`reward.${k}`, b, n * 4);
    reward[k] = a;
  }
  if (c.flags.byteLength !== n) return bad('flags', c.flags, n);
  const flags = copy ? new Uint8Array(c.flags) : new Uint8Array(0);
  const step = typed(c.step, n, 4, (b) => new Int32Array(b), copy);
  if (step === null) return bad('step', c.step, n * 4);
  const stampMs = typed(c.stamp_ms, n, 8, (b) => new Float64Array(b), copy);
  if (stampMs === null) return bad('stamp_ms', c.stamp_ms, n * 8);

  let frames: Uint8Array | null = null;
  let frameStep: Int32Array | null = null;
  if (layout.camera === null) {
    if (c.frames !== null || c.frame_step !== null) return fail('invalid', 'frames sent without a camera in the layout');
  } else {
    if (c.frames === null || c.frame_step === null) return fail('invalid', 'camera in the layout but no frames column');
    const m = c.frame_step.byteLength / 4;
    if (!Number.isInteger(m) || m > n) return fail('invalid', `frame_step has ${c.frame_step.byteLength} bytes, not a whole number of at most n frames`);
    frameStep = typed(c.frame_step, m, 4, (b) => new Int32Array(b), copy);
    const per = frameBytes(layout);
    if (c.frames.byteLength !== m * per) return bad('frames', c.frames, m * per);
    frames = copy ? new Uint8Array(c.frames) : new Uint8Array(0);
  }
  // The step column as written (little-endian int32, as every supported platform stores it), copied or not.
  const steps = new DataView(c.step.buffer, c.step.byteOffset, c.step.byteLength);
  for (let i = 1; i < n; i++) {
    if (steps.getInt32(4 * i, true) <= steps.getInt32(4 * (i - 1), true)) return fail('invalid', `column step is not increasing at row ${i}`);
  }
  const firstStep = n > 0 ? steps.getInt32(0, true) : null;
  const lastStep = n > 0 ? steps.getInt32(4 * (n - 1), true) : null;
  return { ok: true, value: { observation, action, actionMean, logProb, command, progress, reward, flags, step, stampMs, frames, frameStep }, firstStep, lastStep };
}

/** Decode a body the store kept (validated when it arrived) back into columns. */
export function decodeStoredBody(header: RolloutHeader, body: Uint8Array): RolloutColumns {
  const r = decodeRolloutBody(header, body);
  if (!r.ok) throw new StriatumError('STRIATUM_ERR_IO', `stored chunk ${header.robot}/${header.episode}/${header.chunk} no longer decodes: ${r.code}: ${r.error}`);
  return r.value;
}

// ---------------------------------------------------------------------------------------------------------------
// Acks and the updater's status (JSON).

export const RolloutAckSchema = z.strictObject({
  v: z.literal(ROLLOUT_VERSION),
  robot: RobotIdSchema,
  episode: z.string().max(128).nullable().describe('null only on a rejection of a chunk whose identity could not be read'),
  chunk: z.int().min(0).nullable(),
  status: z.enum(['stored', 'duplicate', 'rejected']),
  reason: z.string().max(300).optional(),
  crc32c: z.int().min(0).max(0xffffffff).optional()
    .describe('CRC-32C of the rejected payload as received: names a chunk whose identity could not be read'),
}).refine((a) => (a.episode !== null && a.chunk !== null) || (a.status === 'rejected' && a.crc32c !== undefined), {
  message: 'an ack names its chunk by episode and chunk, or (a rejection only) by crc32c', path: ['episode'],
});
export type RolloutAck = z.infer<typeof RolloutAckSchema>;

const counts = z.strictObject({ stored: z.int(), duplicate: z.int(), rejected: z.int() });

export const UpdaterStatusSchema = z.strictObject({
  v: z.literal(ROLLOUT_VERSION),
  updater: z.string().describe('this updater instance'),
  online: z.boolean(),
  stamp: z.string(),
  started: z.string().nullable(),
  subscription: z.enum(['shared', 'plain']).nullable().describe('shared: MQTT 5 $share group; plain: MQTT 3.1.1 broker'),
  chunks: counts,
  rejected_by_code: z.record(z.string(), z.int()),
  steps_stored: z.int(),
  episodes_complete: z.int().describe('episodes this instance completed (final chunk and all earlier ones present)'),
  unrecorded_steps: z.int().describe('steps robots reported as not recorded (skipped_steps), in chunks stored here'),
  last_rejection: z.strictObject({ robot: z.string().nullable(), code: RejectCodeSchema, reason: z.string(), stamp: z.string() }).nullable(),
});
export type UpdaterStatus = z.infer<typeof UpdaterStatusSchema>;

/**
 * An updater's event on striatum/v1/updater/event (QoS 1, not retained): `store_full` when the store refuses writes
 * for lack of space (ingest pauses: nothing is acked, chunks wait on the robots' spools, writes are retried with
 * backoff), `store_resumed` when a retry succeeded.
 */
export const UpdaterEventSchema = z.strictObject({
  v: z.literal(ROLLOUT_VERSION),
  updater: z.string(),
  kind: z.literal('store'),
  code: z.enum(['store_full', 'store_resumed']),
  message: z.string(),
  stamp: z.string(),
  store: z.string().describe('the store: SQLite path, or PostgreSQL URL without its password'),
  queued_chunks: z.int().min(0).describe('validated chunks waiting for the store, none of them acked'),
});
export type UpdaterEvent = z.infer<typeof UpdaterEventSchema>;

/** Rollout message schemas by name, for `striatum schema` (the chunk is MessagePack; its header schema is JSON-able). */
export const rolloutSchemas = {
  rollout_header: RolloutHeaderSchema,
  rollout_ack: RolloutAckSchema,
  updater_status: UpdaterStatusSchema,
  updater_event: UpdaterEventSchema,
} as const;

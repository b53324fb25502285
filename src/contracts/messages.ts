// Every MQTT message body, declared once with zod. Inbound messages are validated here, at the edge.
// `striatum schema` turns these into JSON Schema for clients in other languages.
import { z } from 'zod';
import { CONTROL_STATES, END_REASON_MAX, EPISODE_OUTCOMES, type ControlState as CoreControlState, type EpisodeStart, type EpisodeSummary } from '../control/step.js';
import { EVENT_CODES } from './event-codes.js';

export const CONTRACT_VERSION = 1;

export const ControlStateSchema = z.enum(CONTROL_STATES);
export type ControlState = CoreControlState;

export const StatusMessageSchema = z.strictObject({
  v: z.literal(CONTRACT_VERSION),
  robot: z.string(),
  online: z.boolean(),
  state: ControlStateSchema.nullable().describe('null in the last-will message'),
  reason: z.string().describe('why the last transition happened'),
  policy: z.strictObject({ name: z.string(), version: z.string(), provider: z.string() }).nullable(),
  transport: z.string().nullable(),
  stamp: z.string().describe('ISO-8601 time of the message'),
});
export type StatusMessage = z.infer<typeof StatusMessageSchema>;

const DistributionSchema = z.strictObject({
  p50: z.number(), p99: z.number(), max: z.number(), count: z.int(),
});

const p50p99max = z.strictObject({ p50: z.number(), p99: z.number(), max: z.number() });

/** Telemetry's `reward` part: the PRM workers and the reward pipeline (RewardPipeline.telemetry()). */
export const RewardTelemetrySchema = z.strictObject({
  interval_s: z.number(),
  models: z.array(z.strictObject({
    name: z.string(), kind: z.string(), state: z.string(), provider: z.string(), batched: z.boolean(),
    updates: z.int(), valid_updates: z.int(), updates_per_s: z.number(),
    latency_ms: p50p99max, age_ms: z.strictObject({ p50: z.number(), p99: z.number() }),
    errors: z.int(), timeouts: z.int(), nan_results: z.int(), crashes: z.int(), restarts: z.int(), hangs: z.int(),
    late_results: z.int(), stale_results: z.int(), dropped_updates: z.int(), dropped_views: z.int(),
  })).readonly(),
  steps: z.int(),
  no_reward_steps: z.int(),
  gold_steps: z.int(),
  invalid_progress_answers: z.int(),
  frames: z.array(z.strictObject({ camera: z.string(), written: z.int(), dropped: z.int() })).readonly(),
  mis_sized_frames: z.int(),
  hacking_alarm: z.strictObject({ active: z.boolean(), alarms: z.int(), claims: z.int(), disagreements: z.int() }),
  rnd: z.strictObject({ runs: z.int(), errors: z.int(), latest: z.number() }).nullable(),
});

/** Telemetry's `rollout` part: recorder, publisher and spool counters (RolloutService.stats()). */
export const RolloutTelemetrySchema = z.strictObject({
  recorder: z.strictObject({ stepsRecorded: z.int(), unrecordedSteps: z.int(), chunksCut: z.int(), episodesClosed: z.int(), pauses: z.int() }),
  publisher: z.strictObject({
    published: z.int(), resent: z.int(), acked: z.int(), duplicates: z.int(), rejected: z.int(), corrupt: z.int(),
    staleAcks: z.int(), malformedAcks: z.int(), connects: z.int(),
  }),
  spool: z.strictObject({
    chunksWritten: z.int(), bytesWritten: z.int(), writeErrors: z.int(), lastEncodeUs: z.number(), lastWriteUs: z.number(),
    usedBytes: z.int(), maxBytes: z.int(), backlogChunks: z.int(),
  }),
  recording: z.boolean(),
});

export const TelemetryMessageSchema = z.strictObject({
  v: z.literal(CONTRACT_VERSION),
  robot: z.string(),
  stamp: z.string(),
  state: ControlStateSchema,
  rate_hz: z.number(),
  interval_s: z.number().describe('time covered by the distributions below'),
  loop: z.strictObject({
    period_error_us: DistributionSchema.describe('wake-up lateness against the absolute deadline'),
    compute_us: DistributionSchema.describe('read → policy → safety → write'),
    policy_us: DistributionSchema,
    ticks: z.int(), deadline_misses: z.int(), skipped_periods: z.int(), overruns: z.int(),
  }),
  safety: z.strictObject({
    clamped_position: z.int(), clamped_velocity: z.int(), clamped_effort: z.int(), clamped_delta: z.int(),
    nonfinite_actions: z.int(), faults: z.int(),
  }),
  link: z.strictObject({
    frames_in: z.int(), frames_out: z.int(), crc_errors: z.int(), resyncs: z.int(), dropped_frames: z.int(), rejected_messages: z.int(),
    watchdog_trips: z.int(), reconnects: z.int(), rtt_p50_us: z.number(), rtt_p99_us: z.number(), up: z.boolean(),
  }),
  episode: z.strictObject({ index: z.int(), step: z.int(), progress: z.number().nullable() }),
  mqtt: z.strictObject({ rejected_messages: z.int() }),
  policy: z.strictObject({
    version: z.string().nullable(), swaps: z.int(), deployed: z.int(), refused: z.int(), rollbacks: z.int(),
  }).optional().describe('signed policy updates: swaps at tick boundaries, updates deployed, refused, rolled back'),
  rollout: RolloutTelemetrySchema.nullable().optional()
    .describe('rollout recorder, spool and publisher: steps recorded and skipped, spool use and backlog, chunks published, acked, resent'),
  reward: RewardTelemetrySchema.nullable().optional()
    .describe('PRM workers: per model updates/s, latency and age p50/p99, errors, timeouts, NaN results, restarts; no-reward steps; hacking alarm'),
});
export type TelemetryMessage = z.infer<typeof TelemetryMessageSchema>;

export const EpisodeMessageSchema = z.strictObject({
  v: z.literal(CONTRACT_VERSION),
  robot: z.string(),
  event: z.enum(['start', 'end']),
  episode: z.int().min(0),
  seed: z.int(),
  instruction: z.string(),
  policy_version: z.string().nullable(),
  stamp: z.string(),
  steps: z.int().min(0).optional(),
  duration_s: z.number().optional(),
  outcome: z.enum(EPISODE_OUTCOMES).optional()
    .describe('aborted: a pause, e-stop or fault interrupted the episode; it is neither a success nor a failure'),
  end_reason: z.string().max(END_REASON_MAX).nullable().optional().describe('why an aborted episode was interrupted'),
  success: z.boolean().optional(),
  final_progress: z.number().nullable().optional(),
  ground_truth: z.strictObject({
    success: z.boolean(),
    final_progress: z.number().nullable(),
  }).nullable().optional()
    .describe('learning mode: the environment\'s own verdict, for evaluation; outcome and success are then the success model\'s'),
  reward: z.strictObject({
    return: z.number().describe('sum of shaped rewards'),
    final_progress: z.number().nullable(),
    voc: z.number().describe('Spearman correlation of the PRM progress with time'),
    vroc: z.number().nullable().describe('VOC on the reversed video; null when not computed'),
    voc_f1: z.number().nullable(),
    updates: z.int(),
    no_reward_steps: z.int(),
    hacking_alarm: z.boolean(),
  }).optional().describe('learned-reward summary, when PRMs run'),
});
export type EpisodeMessage = z.infer<typeof EpisodeMessageSchema>;

// The episode message carries the core episode types (control/step.ts) field for field under the same names:
// checked here, at compile time, so a field added to or retyped in the core types cannot drift from the wire.
type EpisodeEndFields = Omit<EpisodeSummary, keyof EpisodeStart>;
type Fits<A, B> = [A] extends [B] ? true : false;
const episodeStartOnWire: Fits<EpisodeStart, Pick<EpisodeMessage, keyof EpisodeStart>> = true;
const episodeEndOnWire: Fits<EpisodeEndFields, Required<Pick<EpisodeMessage, keyof EpisodeEndFields>>> = true;
void episodeStartOnWire;
void episodeEndOnWire;

export const RewardMessageSchema = z.strictObject({
  v: z.literal(CONTRACT_VERSION),
  robot: z.string(),
  episode: z.int(),
  step: z.int(),
  progress: z.number().nullable().describe('potential Φ(s′) from the process-reward model'),
  shaping: z.number(),
  gold: z.number(),
  total: z.number(),
  success_probability: z.number().nullable(),
  prm_age_ms: z.number().nullable().describe('age of the frames behind the newest PRM answer'),
  no_reward: z.boolean(),
  done: z.boolean(),
});
export type RewardMessage = z.infer<typeof RewardMessageSchema>;

export const CommandMessageSchema = z.strictObject({
  v: z.literal(CONTRACT_VERSION),
  command: z.enum(['estop', 'arm', 'pause', 'resume', 'rollback']),
  reason: z.string().max(200).optional(),
  from: z.string().max(64).optional().describe('who sent it, for the log'),
});
export type CommandMessage = z.infer<typeof CommandMessageSchema>;

export const EventMessageSchema = z.strictObject({
  v: z.literal(CONTRACT_VERSION),
  robot: z.string(),
  kind: z.enum(['fault', 'transition', 'rejected_message', 'policy', 'reward', 'connection']),
  code: z.enum(EVENT_CODES).describe('what happened, one of a fixed list per kind (src/contracts/event-codes.ts)'),
  message: z.string(),
  stamp: z.string(),
});
export type EventMessage = z.infer<typeof EventMessageSchema>;

/** Retained on striatum/v1/updater/training: the progress of the updater's training rounds. */
export const TrainingStatusMessageSchema = z.strictObject({
  v: z.literal(1),
  state: z.enum(['idle', 'snapshot', 'training', 'failed', 'done']),
  round: z.int().min(0),
  stamp: z.string(),
  episodes_pending: z.int().min(0),
  epoch: z.int().min(0),
  epochs: z.int().min(0),
  losses: z.record(z.string(), z.number().nullable()).describe('latest value of each loss the trainer reports, e.g. losses/actor'),
  rounds_ok: z.int().min(0),
  rounds_failed: z.int().min(0),
  rounds_skipped: z.int().min(0),
  last_error: z.string().nullable(),
  last_model: z.string().nullable(),
  last_round_s: z.number().nullable(),
  updater: z.string().optional().describe('the updater instance that published it'),
});
export type TrainingStatusMessage = z.infer<typeof TrainingStatusMessageSchema>;

/** Schemas by name, for `striatum schema`. */
export const messageSchemas = {
  status: StatusMessageSchema,
  telemetry: TelemetryMessageSchema,
  episode: EpisodeMessageSchema,
  reward: RewardMessageSchema,
  cmd: CommandMessageSchema,
  event: EventMessageSchema,
  training: TrainingStatusMessageSchema,
} as const;

/** Largest inbound message accepted before parsing, in bytes. */
export const MAX_INBOUND_JSON_BYTES = 4096;

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** Parse an inbound JSON payload against a schema, never throwing. */
export function parseInbound<T>(schema: z.ZodType<T>, payload: Buffer): ParseResult<T> {
  if (payload.length > MAX_INBOUND_JSON_BYTES) return { ok: false, error: `payload of ${payload.length} bytes exceeds ${MAX_INBOUND_JSON_BYTES}` };
  let raw: unknown;
  try {
    raw = JSON.parse(payload.toString('utf8'));
  } catch {
    return { ok: false, error: 'payload is not JSON' };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first && first.path.length > 0 ? first.path.join('.') : '(top level)';
    return { ok: false, error: `${where}: ${first?.message ?? 'invalid'}` };
  }
  return { ok: true, value: parsed.data };
}

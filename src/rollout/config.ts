// The `rollout:` section of a robot config (zod): how steps are chunked, spooled and published, and the broker
// login of the rollout publisher's own connection.
import { z } from 'zod';
import { DEFAULT_MAX_CHUNK_BYTES, MAX_CHUNK_STEPS, RolloutCompressionSchema } from '../contracts/rollout.js';
import { StriatumError } from '../errors.js';

export const RolloutMqttSchema = z.strictObject({
  username: z.string().min(1).describe('the rollout account, e.g. <robot>-rollout'),
  password: z.string().optional(),
  password_env: z.string().optional().describe('read the password from this environment variable'),
}).superRefine((m, ctx) => {
  if (m.password !== undefined && m.password_env !== undefined) ctx.addIssue({ code: 'custom', path: ['password_env'], message: 'give password or password_env, not both' });
  if (m.password === undefined && m.password_env === undefined) ctx.addIssue({ code: 'custom', path: ['password'], message: 'give password or password_env' });
});
export type RolloutMqtt = z.infer<typeof RolloutMqttSchema>;

export const RolloutConfigSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('record every step and stream it to the updater'),
  spool_dir: z.string().min(1).default('spool/rollouts').describe('durable spool directory (relative to the config file)'),
  max_spool_mb: z.number().positive().default(1024).describe('bound on spooled chunks; recording pauses (with an alarm) before it is reached'),
  chunk_steps: z.int().min(1).max(MAX_CHUNK_STEPS).default(250).describe('steps per chunk at most'),
  chunk_ms: z.int().min(10).default(2000).describe('a chunk is cut when its first step is this old (loop time)'),
  compression: RolloutCompressionSchema.default('none').describe('body compression; zstd needs Node.js 22.15 or later'),
  max_chunk_bytes: z.int().min(1024).default(DEFAULT_MAX_CHUNK_BYTES).describe('the updater\'s cap on one chunk; the recorder refuses settings that could exceed it'),
  buffers: z.int().min(2).max(64).default(16).describe('column buffer sets in rotation between the loop and the spool worker (each holds one chunk)'),
  ack_timeout_ms: z.int().min(50).default(10_000).describe('resend a chunk when the updater has not acknowledged it in this time'),
  ack_timeout_max_ms: z.int().min(50).default(120_000).describe('the resend timeout doubles per attempt up to this'),
  max_inflight: z.int().min(1).max(256).default(64).describe('chunks published and not yet acknowledged at once (each held in memory while in flight); the rate is at most this many chunks per ack round trip'),
  memory_budget_mb: z.number().positive().default(32).describe('spooled chunks also kept in memory for publishing, up to this; the rest are read back from disk, and chunks in flight stay within it (one at least)'),
  reconnect_min_ms: z.int().min(10).default(1000),
  reconnect_max_ms: z.int().min(10).default(30_000),
  mqtt: RolloutMqttSchema.nullable().default(null)
    .describe('the publisher\'s own broker login (null: the robot\'s); needed on a broker that binds client ids to usernames, e.g. Mosquitto with use_username_as_clientid'),
  camera: z.strictObject({
    name: z.string().min(1),
    width: z.int().min(1).max(4096),
    height: z.int().min(1).max(4096),
    channels: z.union([z.literal(1), z.literal(3)]).default(3),
    every_steps: z.int().min(1).describe('record a frame every N steps'),
  }).nullable().default(null).describe('camera frames in the rollout (null: none)'),
});
export type RolloutConfig = z.infer<typeof RolloutConfigSchema>;

export interface RolloutLogin { readonly username: string; readonly password: string; readonly clientId: string | undefined }

/**
 * The login of the rollout publisher's connection: the robot's own (client id `striatum-<robot>-rollout`) or,
 * with rollout.mqtt, the rollout account with its username as client id, which that account owns on the
 * embedded broker and which Mosquitto's use_username_as_clientid would impose anyway.
 */
export function rolloutLogin(section: RolloutMqtt | null, robot: { username: string; password: string }, env: NodeJS.ProcessEnv): RolloutLogin {
  if (section === null) return { username: robot.username, password: robot.password, clientId: undefined };
  let password = section.password;
  if (section.password_env !== undefined) {
    password = env[section.password_env];
    if (password === undefined) throw new StriatumError('STRIATUM_ERR_CONFIG', `rollout.mqtt.password_env: environment variable ${section.password_env} is not set`);
  }
  return { username: section.username, password: password ?? '', clientId: section.username };
}

// The robot configuration, declared once with zod: the schema is also the type and the JSON Schema.
// Keys are snake_case because the file is written by people next to ROS 2 parameter files.
import { z } from 'zod';
import { robotConfigCrossChecks } from './cross-checks.js';
import { RewardConfigSchema } from '../reward/prm/config.js';
import { RolloutConfigSchema } from '../rollout/config.js';
import { DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_PACKET_BYTES } from '../broker/limits.js';
import { MCAP_TOPICS } from '../dataset/mcap-topics.js';

const finite = z.number(); // zod 4 numbers reject NaN and ±Infinity
const positive = z.number().positive();

export const JointSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an identifier (letters, digits, underscore)'),
  position: z.strictObject({ min: finite, max: finite })
    .refine((p) => p.min < p.max, { message: 'min must be below max' })
    .describe('position limits (m or rad)'),
  velocity: positive.describe('maximum |velocity| (m/s or rad/s)'),
  effort: positive.describe('maximum |effort| (N or N·m)'),
  acceleration: positive.optional().describe('maximum |acceleration|; bounds the per-tick change of velocity commands'),
});

export const NormalizationSchema = z.union([
  z.literal('model').describe('use the mean/std shipped in the policy metadata'),
  z.literal('none'),
  z.strictObject({ mean: z.array(finite), std: z.array(positive) }),
]);

export const ObservationSchema = z.strictObject({
  fields: z.array(z.string().min(1)).min(1)
    .describe('state fields concatenated in order: joint_positions, joint_velocities, joint_efforts, or an extra field the transport provides'),
  normalization: NormalizationSchema.default('model')
    .describe("'model': mean/std from the policy metadata; 'none'; or explicit {mean, std}, one entry per observation element"),
});

export const ActionSchema = z.strictObject({
  mode: z.enum(['position', 'velocity', 'effort']),
  scale: z.union([positive, z.array(positive)]).default(1).describe('multiplies the denormalized policy output, per joint or for all'),
  chunk: z.int().min(1).max(256).default(1).describe('actions predicted per policy call'),
  execution: z.enum(['ensemble', 'sequential']).default('ensemble')
    .describe('ensemble: query every tick and blend overlapping chunks (ACT); sequential: play a chunk open-loop'),
  ensemble_decay: finite.min(0).default(0.01).describe('ACT temporal-ensemble weight exp(-m·i), i = 0 the oldest prediction'),
  max_delta: z.union([positive, z.array(positive)]).optional()
    .describe('largest change of a command between two ticks; default from joint limits and the control period'),
});

export const ExecutionProviderSchema = z.enum(['tensorrt', 'cuda', 'cpu']);

export const PolicySchema = z.strictObject({
  model: z.string().min(1).describe('path to the ONNX file, relative to the config file'),
  metadata: z.string().min(1).optional().describe('path to the metadata JSON; default: the model path with .json'),
  execution_providers: z.array(ExecutionProviderSchema).min(1).default(['cpu'])
    .describe('tried in order; the first that loads is used and logged'),
  threads: z.int().min(1).max(64).default(1).describe('intra-op threads for the policy session'),
  warmup_runs: z.int().min(0).max(10000).default(20).describe('policy runs before the loop starts, so the first tick is not slow'),
  trusted_keys: z.array(z.string().min(1)).default([])
    .describe('ed25519 public keys (PEM files, relative to the config file) whose signed policy manifests this robot accepts; empty: no over-the-air updates'),
  state_dir: z.string().min(1).default('run/policy')
    .describe('private folder (relative to the config file) where the robot keeps the signed policy it runs, the one before, and its release record, so they survive a restart'),
  auto_rollback: z.strictObject({
    episodes: z.int().min(1).default(20).describe('episodes of a new policy version before its success rate is judged'),
    margin: z.number().min(0).max(1).default(0.1).describe('roll back when the new success rate is below the previous version\'s by more than this'),
  }).nullable().default({ episodes: 20, margin: 0.1 })
    .describe('roll back a deployed policy automatically when it does worse than the one it replaced (success = the episode verdict: the success model\'s in learning mode), each judged over at least `episodes` episodes, never back to a version rolled back before; null: never'),
});

export const CameraSchema = z.strictObject({
  name: z.enum(['top', 'wrist']),
  width: z.int().min(16).max(1024).default(96),
  height: z.int().min(16).max(1024).default(96),
  hz: positive.max(120).default(10),
});

export const SimTransportSchema = z.strictObject({
  kind: z.literal('sim'),
  task: z.literal('push').default('push'),
  time_limit_s: positive.default(15),
  cameras: z.array(CameraSchema).default([{ name: 'top', width: 96, height: 96, hz: 10 }]),
  state_noise_std: finite.min(0).default(0),
  success_tail_s: finite.min(0).default(0)
    .describe('with the simulator\'s own success verdict: keep the episode running this long after the first success frame (recordings for the success model)'),
});

export const SerialTransportSchema = z.strictObject({
  kind: z.literal('serial'),
  path: z.string().min(1)
    .describe("serial device, e.g. /dev/ttyACM0, or a pty; 'auto-sim' starts firmware-bridge's host simulator (firmware-bridge/build/sbp_sim, or $STRIATUM_SBP_SIM) and uses its pty"),
  baud: z.int().positive().default(1000000).describe('line rate; ignored on a pty and on USB CDC'),
  handshake_timeout_ms: positive.default(1000).describe('wait this long for HELLO_ACK, each PARAM_VALUE and the first STATE'),
  link_timeout_ms: positive.default(100).describe('no STATE for this long shows the link as down in telemetry'),
  time_limit_s: positive.default(15),
  watchdog_ms: positive.max(1000).optional()
    .describe('firmware command watchdog, sent at the handshake: no command for this long puts the robot in its safe state; default max(20, 3 control periods)'),
  safe_mode: z.enum(['hold', 'disable']).default('hold')
    .describe("the firmware's safe state: hold the joints where they are, or cut motor power"),
  reconnect: z.strictObject({
    initial_ms: positive.default(100),
    max_ms: positive.default(2000),
  }).default({ initial_ms: 100, max_ms: 2000 }).describe('exponential backoff between reconnect attempts after the link is lost'),
  simulator_args: z.array(z.string()).default([])
    .describe("with path 'auto-sim': extra sbp_sim arguments, e.g. ['--noise', '0.001']; --joints and --limits come from joints"),
});

const ROS_TOPIC = z.string().regex(/^(\/|~\/)?[A-Za-z][A-Za-z0-9_]*(\/[A-Za-z][A-Za-z0-9_]*)*$/, 'must be a ROS 2 topic name, e.g. /joint_states');

export const Ros2QosSchema = z.strictObject({
  reliability: z.enum(['reliable', 'best_effort']),
  durability: z.enum(['volatile', 'transient_local']).default('volatile'),
  depth: z.int().min(1).max(1000).describe('keep-last history depth'),
});

const qos = (reliability: 'reliable' | 'best_effort', durability: 'volatile' | 'transient_local', depth: number, what: string) =>
  Ros2QosSchema.default({ reliability, durability, depth }).describe(what);

export const Ros2CameraSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an identifier').describe('the camera name reward models refer to'),
  topic: ROS_TOPIC.describe('sensor_msgs/msg/Image (rgb8, bgr8, mono8) or, with compressed, sensor_msgs/msg/CompressedImage (jpeg, png)'),
  compressed: z.boolean().default(false),
  width: z.int().min(16).max(1024).default(96).describe('frames are resized to this width off the control tick'),
  height: z.int().min(16).max(1024).default(96),
});

export const Ros2TransportSchema = z.strictObject({
  kind: z.literal('ros2'),
  backend: z.enum(['auto', 'cyclonedds', 'rclnodejs']).default('auto')
    .describe("auto: rclnodejs when ROS 2 is sourced and it loads, else cyclonedds (Eclipse Cyclone DDS, no ROS installation needed); the choice is logged"),
  node_name: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'must be a ROS 2 node name').default('striatum'),
  namespace: z.string().regex(/^(\/[A-Za-z][A-Za-z0-9_]*)*$/, 'must be empty or like /robot1').default('')
    .describe('prefix of relative topic names (those without a leading /)'),
  domain_id: z.int().min(0).max(232).nullable().default(null).describe('DDS domain; null: $ROS_DOMAIN_ID, else 0'),
  joint_states_topic: ROS_TOPIC.default('/joint_states').describe('sensor_msgs/msg/JointState, matched to joints by name'),
  command_interface: z.enum(['forward_command', 'joint_trajectory']).default('forward_command')
    .describe('forward_command: std_msgs/msg/Float64MultiArray on /<controller>/commands; joint_trajectory: trajectory_msgs/msg/JointTrajectory on /<controller>/joint_trajectory, one point at time_from_start = the control period'),
  controller: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'must be a controller name').default('forward_command_controller'),
  command_topic: ROS_TOPIC.nullable().default(null).describe('overrides the controller\'s topic'),
  estop_topic: ROS_TOPIC.default('/striatum/estop').describe('std_msgs/msg/Bool; true latches the e-stop (false does nothing: arm is explicit)'),
  state_topic: ROS_TOPIC.default('/striatum/state').describe('std_msgs/msg/String: idle, running, paused or estopped; latched'),
  diagnostics_topic: ROS_TOPIC.default('/diagnostics'),
  diagnostics_hz: positive.max(50).default(1),
  cameras: z.array(Ros2CameraSchema).max(8).default([]),
  qos: z.strictObject({
    joint_states: qos('best_effort', 'volatile', 5, 'sensor data'),
    commands: qos('reliable', 'volatile', 10, 'ROS default'),
    estop: qos('reliable', 'volatile', 10, 'ROS default'),
    state: qos('reliable', 'transient_local', 1, 'latched: a late subscriber gets the current state'),
    diagnostics: qos('reliable', 'volatile', 10, 'ROS default'),
    images: qos('best_effort', 'volatile', 5, 'sensor data'),
  }).prefault({}),
  ros_discovery_info: z.enum(['jazzy', 'humble', 'off']).default('jazzy')
    .describe("cyclonedds backend: publish the node on ros_discovery_info so ros2 node list shows it; jazzy: Iron, Jazzy, Kilted (16-byte gids), humble: 24-byte gids"),
  startup_timeout_ms: positive.default(5000).describe('wait this long for a joint state naming every configured joint'),
  bridge: z.string().min(1).nullable().default(null)
    .describe('cyclonedds backend: absolute path of striatum_dds_bridge; null: $STRIATUM_DDS_BRIDGE, else ros2-bridge/build in this package'),
  time_limit_s: positive.default(15),
});

export const TransportSchema = z.discriminatedUnion('kind', [SimTransportSchema, SerialTransportSchema, Ros2TransportSchema]);

export const MqttUserSchema = z.strictObject({
  username: z.string().min(1),
  password: z.string().min(8, 'must be at least 8 characters'),
  role: z.enum(['robot', 'updater', 'operator', 'viewer']),
  robot: z.string().optional().describe('for role robot: the robot id this user may publish for (default: the username)'),
});

export const MqttSchema = z.strictObject({
  broker: z.union([z.literal('embedded'), z.url({ protocol: /^(mqtts?|wss?|tcp)$/ })]).default('embedded')
    .describe("'embedded' starts aedes in this process; otherwise a broker URL such as mqtt://10.0.0.2:1883"),
  host: z.string().default('127.0.0.1').describe('embedded broker: address to listen on'),
  port: z.int().min(0).max(65535).default(1883).describe('embedded broker: TCP port (0 picks a free one)'),
  ws_port: z.int().min(0).max(65535).nullable().default(9001).describe('embedded broker: WebSocket port, null to disable'),
  dashboard: z.boolean().default(true).describe('embedded broker: serve the web dashboard at http://host:ws_port/ (MQTT over WebSocket stays on the same port)'),
  camera_frames: z.strictObject({
    hz: positive.max(10).default(1).describe('JPEG frames per second and camera'),
    quality: z.int().min(10).max(100).default(70).describe('JPEG quality'),
    cameras: z.array(z.string().min(1)).default([]).describe('camera names; empty: every camera'),
  }).nullable().default(null)
    .describe('publish camera frames as JPEG on striatum/v1/{robot}/camera/{name} (QoS 0, never retained) for the dashboard; null publishes none'),
  username: z.string().optional().describe('credentials this robot connects with (default: robot id)'),
  password: z.string().optional(),
  password_env: z.string().optional().describe('read the password from this environment variable'),
  users: z.array(MqttUserSchema).default([]).describe('embedded broker: accounts besides the robot itself, unique usernames; the examples\' demo passwords only on a loopback host'),
  telemetry_hz: positive.max(100).default(2),
  keepalive_s: z.int().min(1).max(3600).default(10),
  on_disconnect: z.enum(['pause', 'estop', 'continue']).default('pause')
    .describe('when the robot cannot hear commands (e-stops included): link down past the grace, or lost 3 times in a minute'),
  disconnect_grace_ms: z.int().min(0).max(600_000).default(2000).describe('a shorter loss of the MQTT link is tolerated'),
  max_connections: z.int().min(2).default(DEFAULT_MAX_CONNECTIONS)
    .describe('embedded broker: open connections at most (TCP and WebSocket); more are closed at once'),
  max_packet_bytes: z.int().min(64 * 1024).default(DEFAULT_MAX_PACKET_BYTES)
    .describe('embedded broker: largest MQTT packet a logged-in client may send; before login 64 KiB'),
});

export const ControlSchema = z.strictObject({
  rate_hz: finite.min(1).max(1000).describe('fixed control rate; 50–1000 Hz are supported on Linux'),
  realtime: z.boolean().default(true).describe('false runs as fast as possible (data collection in the sim)'),
  autostart: z.boolean().default(true).describe('enter running after start-up without an explicit command'),
  spin_us: z.int().min(0).max(5000).default(400).describe('busy-wait this long before each deadline for precise wake-up'),
  deadline_storm: z.strictObject({
    window: z.int().min(1).default(100),
    max_misses: z.int().min(1).default(20),
  }).default({ window: 100, max_misses: 20 }).describe('more missed deadlines plus skipped periods than max_misses in the last window ticks is a fault (a freeze skips many periods)'),
  link_timeout_ms: positive.default(200).describe('no fresh robot state for this long is a fault'),
});

export const StallSchema = z.strictObject({
  after_s: positive.default(1).describe('a burst starts when over this long no joint has made net progress of `speed` (dithering in place counts as still)'),
  speed: finite.gt(0).max(1).default(0.05).describe('fraction of each joint\'s velocity limit: a net speed over after_s below it counts as standing still'),
  std_scale: positive.default(5).describe('multiplies the standard deviation during a burst'),
  duration_s: positive.default(1.5).describe('length of a burst; the stillness count starts again after it'),
});

export const ExplorationSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('training episodes sample the command from the policy\'s Gaussian (mean and log-std outputs); false runs the mean'),
  seed: z.int().min(0).default(1).describe('seed of the sampling noise; each episode\'s stream is (seed, episode seed), so a rerun draws the same noise'),
  evaluation_every: z.int().min(0).default(0).describe('every k-th episode is an evaluation episode that runs the mean action; 0: none'),
  log_std: finite.min(-10).max(1).nullable().default(null)
    .describe('a scheduled log standard deviation (normalized action units) used instead of the model\'s log-std output; it also makes a model without one stochastic; null: the model\'s'),
  std_scale: positive.default(1).describe('multiplies the standard deviation'),
  correlation_s: finite.min(0).default(0)
    .describe('time constant of the noise (s): 0 draws it afresh every tick; > 0 makes it an Ornstein–Uhlenbeck process with the same spread, so the robot wanders for that long in one direction instead of jittering in place'),
  stall: StallSchema.nullable().default(null)
    .describe('bursts of wider noise when the robot stands still in a training episode (a policy parked where its mean is about zero never leaves on noise of the usual spread); null: none'),
});

export const EpisodesSchema = z.strictObject({
  count: z.int().min(1).nullable().default(null).describe('stop after this many episodes; null runs until stopped'),
  seed: z.int().min(0).default(1).describe('episode k uses seed + k'),
  success_signal: z.enum(['success_model', 'environment']).nullable().default(null)
    .describe('what ends an episode as a success and is its recorded outcome: the success model with its done rule (learning mode: the environment\'s verdict goes only to evaluation records as ground_truth), or the environment\'s own flag; default success_model when rollouts are recorded and a success model runs, else environment'),
});

export const RecordingSchema = z.strictObject({
  mcap: z.strictObject({
    path: z.string().min(1).describe('where recordings go (relative to the config file): dir/stem.mcap becomes dir/stem-<UTC start time>-<n>.mcap, a new file at every start'),
    topics: z.array(z.enum(MCAP_TOPICS)).min(1).nullable().default(null).describe('only these topics; null records every one'),
    max_size: z.number().positive().default(1024).describe('MiB per file; the next file starts past it'),
    chunk_size: z.int().min(1).max(65536).default(256).describe('KiB per MCAP chunk: a crash loses at most the chunk being filled'),
  }).nullable().default(null).describe('record the robot\'s own MCAP bag (ros2 profile, CDR messages, Foxglove and ros2 bag read it); null records none'),
});

export const RobotConfigSchema = z.strictObject({
  robot: z.strictObject({
    id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1–64 letters, digits, - or _ (it becomes an MQTT topic level)')
      .describe('unique robot name; the MQTT topic level and the default MQTT username; policy and updater are reserved'),
    task: z.string().min(1).default('push').describe('task name; policies are published per task'),
    description: z.string().optional().describe('free text for operators'),
  }),
  joints: z.array(JointSchema).min(1).max(64),
  control: ControlSchema,
  observation: ObservationSchema,
  action: ActionSchema,
  policy: PolicySchema,
  transport: TransportSchema,
  mqtt: MqttSchema.default(MqttSchema.parse({})),
  episodes: EpisodesSchema.default({ count: null, seed: 1, success_signal: null }),
  exploration: ExplorationSchema.nullable().default(null)
    .describe('sample commands from a stochastic policy in training episodes (before the safety filter) and record mean, sample and log-probability; null runs the mean'),
  rollout: RolloutConfigSchema.nullable().default(null)
    .describe('record every step to a durable spool and stream it to the updater over MQTT; null records nothing'),
  reward: RewardConfigSchema.nullable().default(null)
    .describe('process-reward models and reward shaping; null runs the policy without learned rewards'),
  recording: RecordingSchema.default({ mcap: null }).describe('recordings the robot writes itself'),
  foxglove: z.strictObject({
    host: z.string().default('127.0.0.1').describe('address to listen on'),
    port: z.int().min(0).max(65535).default(8765).describe('WebSocket port (0 picks a free one)'),
    rate_hz: positive.max(100).default(20).describe('joint states, commands, rewards and progress per second'),
  }).nullable().default(null)
    .describe('Foxglove live view (Foxglove WebSocket protocol): joint states, commands, rewards, PRM progress, camera images; null: off'),
}).superRefine((cfg, ctx) => {
  const names = new Set<string>();
  cfg.joints.forEach((j, i) => {
    if (names.has(j.name)) ctx.addIssue({ code: 'custom', path: ['joints', i, 'name'], message: `duplicate joint name "${j.name}"` });
    names.add(j.name);
  });
  const n = cfg.joints.length;
  for (const key of ['scale', 'max_delta'] as const) {
    const v = cfg.action[key];
    if (Array.isArray(v) && v.length !== n) {
      ctx.addIssue({ code: 'custom', path: ['action', key], message: `has ${v.length} entries but there are ${n} joints` });
    }
  }
  const norm = cfg.observation.normalization;
  if (typeof norm === 'object' && norm.mean.length !== norm.std.length) {
    ctx.addIssue({ code: 'custom', path: ['observation', 'normalization'], message: 'mean and std differ in length' });
  }
  if (cfg.mqtt.password !== undefined && cfg.mqtt.password_env !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['mqtt', 'password_env'], message: 'give password or password_env, not both' });
  }
  robotConfigCrossChecks(cfg, ctx);
  if (cfg.episodes.success_signal === 'success_model' && !(cfg.reward?.models ?? []).some((m) => m.kind === 'success')) {
    ctx.addIssue({ code: 'custom', path: ['episodes', 'success_signal'], message: 'success_model needs a reward model of kind success (reward.models)' });
  }
  if (cfg.mqtt.broker === 'embedded' && cfg.rollout !== null && cfg.rollout.max_chunk_bytes + 4096 > cfg.mqtt.max_packet_bytes) {
    ctx.addIssue({ code: 'custom', path: ['mqtt', 'max_packet_bytes'], message: `must exceed rollout.max_chunk_bytes (${cfg.rollout.max_chunk_bytes}) by 4096 bytes for the topic and headers` });
  }
});

export type RobotConfig = z.infer<typeof RobotConfigSchema>;
export type JointConfig = z.infer<typeof JointSchema>;
export type TransportConfig = z.infer<typeof TransportSchema>;
export type MqttConfig = z.infer<typeof MqttSchema>;

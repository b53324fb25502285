// Striatum's steps as MCAP channels, shared by the robot's own recording and `updater export --format mcap`:
// ROS 2 messages (profile `ros2`, CDR, `ros2msg` schemas) for what ROS tools understand, JSON with JSON Schema
// for Striatum's own records. Topics:
//   /joint_states                  sensor_msgs/JointState   the joint fields of the observation
//   /striatum/observation          std_msgs/Float64MultiArray the whole observation
//   /striatum/command              std_msgs/Float64MultiArray the command written (after the safety filter)
//   /striatum/policy_action        std_msgs/Float64MultiArray the policy's output (before the filter)
//   /striatum/camera/<name>/image  sensor_msgs/Image        camera frames (rgb8 / mono8), when recorded
//   /striatum/step                 json                      episode, step, progress, done, truncated, flags
//   /striatum/reward               json                      the reward components (null: no reward that step)
//   /striatum/episode              json                      episode start and end (outcome, end_reason)
import type { McapWriter } from '@mcap/core';
import { REWARD_COMPONENTS } from '../contracts/rollout.js';
import { CdrWriter, encodeFloat64MultiArray, encodeImage, encodeJointState, type Slice } from './cdr.js';
import { ROS2_SCHEMAS, type Ros2SchemaName } from './ros2-msg-defs.js';
import type { McapTopic } from './mcap-topics.js';


export interface McapLayout {
  readonly joints: readonly string[];
  readonly observation: readonly { readonly name: string; readonly size: number }[];
  readonly cameras: readonly { readonly name: string; readonly width: number; readonly height: number; readonly channels: number }[];
}

/** One step, as either source has it. Rewards: the components in REWARD_COMPONENTS order, or null. */
export interface McapStep {
  readonly episode: string;
  readonly step: number;
  readonly stampNs: bigint;
  readonly observation: ArrayLike<number>;
  readonly command: ArrayLike<number>;
  readonly action: ArrayLike<number>;
  readonly progress: number;
  readonly flags: number;
  readonly done: boolean;
  readonly truncated: boolean;
  readonly reward: ArrayLike<number> | null;
}

export interface McapEpisodeEvent {
  readonly event: 'start' | 'end';
  readonly episode: string;
  readonly stampNs: bigint;
  readonly policy_version: string | null;
  readonly instruction: string;
  readonly outcome: string | null;
  readonly end_reason: string | null;
  readonly steps: number;
}

const num = { type: ['number', 'null'] };
const JSON_SCHEMAS: Record<string, object> = {
  'striatum.Step': {
    type: 'object', title: 'striatum.Step',
    properties: { episode: { type: 'string' }, step: { type: 'integer' }, progress: num, done: { type: 'boolean' }, truncated: { type: 'boolean' }, flags: { type: 'integer' } },
  },
  'striatum.Reward': {
    type: 'object', title: 'striatum.Reward',
    properties: { episode: { type: 'string' }, step: { type: 'integer' }, ...Object.fromEntries(REWARD_COMPONENTS.map((k) => [k, num])) },
  },
  'striatum.Episode': {
    type: 'object', title: 'striatum.Episode',
    properties: {
      event: { enum: ['start', 'end'] }, episode: { type: 'string' }, policy_version: { type: ['string', 'null'] }, instruction: { type: 'string' },
      outcome: { type: ['string', 'null'] }, end_reason: { type: ['string', 'null'] }, steps: { type: 'integer' },
    },
  },
};

const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null);
const EMPTY: Slice = { values: [], from: 0, count: 0 };

export class McapStepWriter {
  private readonly cdr = new CdrWriter(4096);
  private readonly channels = new Map<string, number>();
  private readonly sequence = new Map<number, number>();
  private readonly jointSlices: { position: [number, number] | null; velocity: [number, number] | null; effort: [number, number] | null };
  messages = 0;

  constructor(private readonly writer: McapWriter, private readonly layout: McapLayout, private readonly topics: ReadonlySet<string> | null) {
    const find = (name: string): [number, number] | null => {
      let o = 0;
      for (const f of layout.observation) {
        if (f.name === name) return [o, f.size];
        o += f.size;
      }
      return null;
    };
    this.jointSlices = { position: find('joint_positions'), velocity: find('joint_velocities'), effort: find('joint_efforts') };
  }

  /** Header, schemas and channels of the chosen topics. */
  async start(library: string): Promise<void> {
    await this.writer.start({ profile: 'ros2', library });
    const ros2 = new Map<Ros2SchemaName, number>();
    const rosSchema = async (name: Ros2SchemaName): Promise<number> => {
      const known = ros2.get(name);
      if (known !== undefined) return known;
      const id = await this.writer.registerSchema({ name, encoding: 'ros2msg', data: new TextEncoder().encode(ROS2_SCHEMAS[name]) });
      ros2.set(name, id);
      return id;
    };
    const add = async (topic: string, filterName: McapTopic, schemaId: number, encoding: string): Promise<void> => {
      if (this.topics !== null && !this.topics.has(filterName)) return;
      this.channels.set(topic, await this.writer.registerChannel({ topic, schemaId, messageEncoding: encoding, metadata: new Map() }));
    };
    const json = async (name: string): Promise<number> =>
      this.writer.registerSchema({ name, encoding: 'jsonschema', data: new TextEncoder().encode(JSON.stringify(JSON_SCHEMAS[name])) });
    await add('/joint_states', '/joint_states', await rosSchema('sensor_msgs/msg/JointState'), 'cdr');
    for (const t of ['/striatum/observation', '/striatum/command', '/striatum/policy_action'] as const) await add(t, t, await rosSchema('std_msgs/msg/Float64MultiArray'), 'cdr');
    for (const cam of this.layout.cameras) await add(`/striatum/camera/${cam.name}/image`, '/striatum/camera', await rosSchema('sensor_msgs/msg/Image'), 'cdr');
    await add('/striatum/step', '/striatum/step', await json('striatum.Step'), 'json');
    await add('/striatum/reward', '/striatum/reward', await json('striatum.Reward'), 'json');
    await add('/striatum/episode', '/striatum/episode', await json('striatum.Episode'), 'json');
  }

  private async put(topic: string, stampNs: bigint, data: Uint8Array): Promise<void> {
    const channelId = this.channels.get(topic);
    if (channelId === undefined) return;
    const sequence = (this.sequence.get(channelId) ?? 0) + 1;
    this.sequence.set(channelId, sequence);
    await this.writer.addMessage({ channelId, sequence, logTime: stampNs, publishTime: stampNs, data });
    this.messages++;
  }

  private jsonBytes(value: unknown): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(value));
  }

  async step(s: McapStep): Promise<void> {
    const slice = (r: [number, number] | null): Slice => (r === null ? EMPTY : { values: s.observation, from: r[0], count: r[1] });
    const j = this.jointSlices;
    if (this.channels.has('/joint_states')) await this.put('/joint_states', s.stampNs, encodeJointState(this.cdr, s.stampNs, '', this.layout.joints, slice(j.position), slice(j.velocity), slice(j.effort)));
    if (this.channels.has('/striatum/observation')) await this.put('/striatum/observation', s.stampNs, encodeFloat64MultiArray(this.cdr, 'observation', s.observation));
    if (this.channels.has('/striatum/command')) await this.put('/striatum/command', s.stampNs, encodeFloat64MultiArray(this.cdr, 'joints', s.command));
    if (this.channels.has('/striatum/policy_action')) await this.put('/striatum/policy_action', s.stampNs, encodeFloat64MultiArray(this.cdr, 'joints', s.action));
    if (this.channels.has('/striatum/step')) {
      await this.put('/striatum/step', s.stampNs, this.jsonBytes({ episode: s.episode, step: s.step, progress: finiteOrNull(s.progress), done: s.done, truncated: s.truncated, flags: s.flags }));
    }
    if (s.reward !== null && this.channels.has('/striatum/reward')) {
      const r: Record<string, unknown> = { episode: s.episode, step: s.step };
      REWARD_COMPONENTS.forEach((k, i) => { r[k] = finiteOrNull((s.reward as ArrayLike<number>)[i]); });
      await this.put('/striatum/reward', s.stampNs, this.jsonBytes(r));
    }
  }

  /** A camera frame (row-major RGB, or gray for 1 channel) of camera `index` in the layout. */
  async frame(index: number, stampNs: bigint, data: Uint8Array): Promise<void> {
    const cam = this.layout.cameras[index];
    if (cam === undefined) return;
    const topic = `/striatum/camera/${cam.name}/image`;
    if (!this.channels.has(topic)) return;
    await this.put(topic, stampNs, encodeImage(this.cdr, stampNs, cam.name, cam.height, cam.width, cam.channels === 3 ? 'rgb8' : 'mono8', cam.width * cam.channels, data));
  }

  async episode(e: McapEpisodeEvent): Promise<void> {
    const { stampNs, ...body } = e;
    await this.put('/striatum/episode', stampNs, this.jsonBytes(body));
  }
}

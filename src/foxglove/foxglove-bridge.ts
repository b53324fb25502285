// The Foxglove live view: a Foxglove WebSocket server (@foxglove/ws-protocol, subprotocol foxglove.websocket.v1)
// with the robot's joint states, commands, rewards, PRM progress and camera images, so Foxglove users watch the
// robot without MQTT. Off by default, loopback by default. The tick only copies numbers into buffers made here
// (a StepSink); a timer turns them into JSON at `rate_hz`, and only while a client subscribes.
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { EpisodeStart, EpisodeSummary, StepSink, StepView } from '../control/step.js';
import type { ObservationField } from '../control/observation.js';
import { StriatumError } from '../errors.js';
import type { Logger } from '../log.js';
import type { CameraOutlet } from '../telemetry/camera-publisher.js';
import { COMPRESSED_IMAGE_SCHEMA, JOINT_COMMAND_SCHEMA, JOINT_STATE_SCHEMA, PROGRESS_SCHEMA, REWARD_SCHEMA } from './foxglove-schemas.js';

// The package is CommonJS: its default export is reached through require.
const { FoxgloveServer } = createRequire(import.meta.url)('@foxglove/ws-protocol') as typeof import('@foxglove/ws-protocol');

export interface FoxgloveOptions {
  readonly host: string;
  readonly port: number;
  readonly rateHz: number;
  readonly robotId: string;
  readonly jointNames: readonly string[];
  readonly mode: string;
  readonly observationFields: readonly ObservationField[];
  readonly cameras: readonly string[];
  /** The reward pipeline's step record; null without PRMs. */
  readonly reward: { readonly episode: number; readonly step: number; readonly progress: number; readonly shaping: number; readonly gold: number; readonly total: number; readonly noReward: boolean; readonly done: boolean; readonly nextPotential: number } | null;
  readonly state: () => string;
  readonly logger: Logger;
}

const time = (ms: number) => ({ sec: Math.floor(ms / 1000), nsec: Math.round((ms % 1000) * 1e6) });

export class FoxgloveBridge implements StepSink, CameraOutlet {
  private readonly server: InstanceType<typeof FoxgloveServer>;
  private readonly channels: { joints: number; command: number; reward: number | null; progress: number; cameras: Map<string, number> };
  private readonly subscribed = new Set<number>();
  private readonly timer: NodeJS.Timeout;
  private readonly encoder = new TextEncoder();
  // Copied on the tick, read by the timer.
  private readonly positions: Float64Array;
  private readonly velocities: Float64Array;
  private readonly efforts: Float64Array;
  private readonly command: Float64Array;
  private readonly action: Float64Array;
  private readonly fieldOffsets: { positions: number; velocities: number; efforts: number };
  private episode = 0;
  private step = 0;
  private progress = Number.NaN;
  private fresh = false;

  private constructor(private readonly o: FoxgloveOptions, private readonly wss: WebSocketServer, readonly port: number) {
    const n = o.jointNames.length;
    this.positions = new Float64Array(n);
    this.velocities = new Float64Array(n);
    this.efforts = new Float64Array(n);
    this.command = new Float64Array(n);
    this.action = new Float64Array(n);
    const offsets = { positions: -1, velocities: -1, efforts: -1 };
    let at = 0;
    for (const f of o.observationFields) {
      if (f.name === 'joint_positions') offsets.positions = at;
      if (f.name === 'joint_velocities') offsets.velocities = at;
      if (f.name === 'joint_efforts') offsets.efforts = at;
      at += f.size;
    }
    this.fieldOffsets = offsets;
    this.server = new FoxgloveServer({ name: `striatum ${o.robotId}` });
    const json = (topic: string, schema: { title: string }) => this.server.addChannel({ topic, encoding: 'json', schemaName: schema.title, schema: JSON.stringify(schema), schemaEncoding: 'jsonschema' });
    this.channels = {
      joints: json(`/${o.robotId}/joint_states`, JOINT_STATE_SCHEMA),
      command: json(`/${o.robotId}/joint_commands`, JOINT_COMMAND_SCHEMA),
      reward: o.reward !== null ? json(`/${o.robotId}/reward`, REWARD_SCHEMA) : null,
      progress: json(`/${o.robotId}/progress`, PROGRESS_SCHEMA),
      cameras: new Map(o.cameras.map((c) => [c, json(`/${o.robotId}/camera/${c}`, COMPRESSED_IMAGE_SCHEMA)])),
    };
    this.server.on('subscribe', (id) => this.subscribed.add(id));
    this.server.on('unsubscribe', (id) => this.subscribed.delete(id));
    this.server.on('error', (err) => o.logger.warn('Foxglove server error', { error: String(err) }));
    wss.on('connection', (conn, req) => this.server.handleConnection(conn, `${req.socket.remoteAddress ?? ''}:${req.socket.remotePort ?? ''}`));
    this.timer = setInterval(() => this.publish(), 1000 / o.rateHz);
    this.timer.unref();
  }

  static async start(o: FoxgloveOptions): Promise<FoxgloveBridge> {
    const wss = await new Promise<WebSocketServer>((resolve, reject) => {
      const server = new WebSocketServer({
        host: o.host, port: o.port, maxPayload: 64 * 1024,
        handleProtocols: (protocols) => (protocols.has(FoxgloveServer.SUPPORTED_SUBPROTOCOL) ? FoxgloveServer.SUPPORTED_SUBPROTOCOL : false),
      });
      server.once('listening', () => resolve(server));
      server.once('error', (err: NodeJS.ErrnoException) => reject(new StriatumError('STRIATUM_ERR_CONFIG', `foxglove: cannot listen on ${o.host}:${o.port} (foxglove.port): ${err.code ?? String(err)}`, [], { cause: err })));
    });
    const bridge = new FoxgloveBridge(o, wss, (wss.address() as AddressInfo).port);
    o.logger.info('Foxglove live view listening', { url: `ws://${o.host}:${bridge.port}` });
    return bridge;
  }

  onEpisodeStart(_episode: EpisodeStart): void {}
  onEpisodeEnd(_summary: EpisodeSummary): void {}

  /** On the tick: copies only. */
  onStep(step: StepView): void {
    const obs = step.observation;
    const off = this.fieldOffsets;
    const n = this.positions.length;
    for (let j = 0; j < n; j++) {
      this.positions[j] = off.positions >= 0 ? obs[off.positions + j] as number : Number.NaN;
      this.velocities[j] = off.velocities >= 0 ? obs[off.velocities + j] as number : Number.NaN;
      this.efforts[j] = off.efforts >= 0 ? obs[off.efforts + j] as number : Number.NaN;
      this.command[j] = step.command[j] as number;
      this.action[j] = step.action[j] as number;
    }
    this.episode = step.episode;
    this.step = step.step;
    this.progress = step.progress;
    this.fresh = true;
  }

  get connected(): boolean {
    return this.subscribed.size > 0;
  }

  /** Camera frames (from CameraPublisher) as foxglove.CompressedImage. */
  publishCameraFrame(camera: string, jpeg: Buffer): void {
    const id = this.channels.cameras.get(camera);
    if (id === undefined || !this.subscribed.has(id)) return;
    const now = Date.now();
    this.send(id, now, { timestamp: time(now), frame_id: camera, data: jpeg.toString('base64'), format: 'jpeg' });
  }

  private send(channel: number, stampMs: number, message: unknown): void {
    this.server.sendMessage(channel, BigInt(Math.round(stampMs * 1e6)), this.encoder.encode(JSON.stringify(message, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))));
  }

  private publish(): void {
    if (!this.fresh || this.subscribed.size === 0) return;
    this.fresh = false;
    const now = Date.now();
    const timestamp = time(now);
    const c = this.channels;
    const name = this.o.jointNames;
    if (this.subscribed.has(c.joints)) this.send(c.joints, now, { timestamp, name, position: [...this.positions], velocity: [...this.velocities], effort: [...this.efforts] });
    if (this.subscribed.has(c.command)) this.send(c.command, now, { timestamp, name, mode: this.o.mode, command: [...this.command], action: [...this.action], state: this.o.state() });
    const r = this.o.reward;
    if (this.subscribed.has(c.progress)) this.send(c.progress, now, { timestamp, episode: this.episode, step: this.step, progress: this.progress, prm_progress: r !== null ? r.nextPotential : null });
    if (r !== null && c.reward !== null && this.subscribed.has(c.reward)) {
      this.send(c.reward, now, { timestamp, episode: r.episode, step: r.step, progress: r.progress, shaping: r.shaping, gold: r.gold, total: r.total, no_reward: r.noReward, done: r.done });
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const c of this.wss.clients) c.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

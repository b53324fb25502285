// The robot's MQTT connection: retained status with a last will, telemetry (QoS 0), episodes and events (QoS 1),
// and the command topic, validated at the edge. A malformed command is rejected, counted and logged.
import mqtt, { type MqttClient } from 'mqtt';
import {
  CONTRACT_VERSION, CommandMessageSchema, parseInbound,
  type CommandMessage, type EpisodeMessage, type RewardMessage, type EventMessage, type StatusMessage, type TelemetryMessage,
} from '../contracts/messages.js';
import { topics } from '../contracts/topics.js';
import type { Logger } from '../log.js';

export interface RobotLinkOptions {
  readonly url: string;
  readonly robotId: string;
  readonly username: string;
  readonly password: string;
  readonly keepaliveS: number;
  readonly logger: Logger;
  /** How long start() waits for the first connection before going on without it. */
  readonly connectWaitMs: number;
  /** What the robot does when it cannot hear commands (e-stops included): see onLinkLost. Default pause. */
  readonly onDisconnect?: LinkLossAction;
  /** A loss shorter than this is tolerated (a broker restart, a Wi-Fi roam). Default 2000 ms. */
  readonly disconnectGraceMs?: number;
}

export type LinkLossAction = 'estop' | 'pause' | 'continue';

const MAX_RECONNECT_MS = 30_000;
/** This many losses within FLAP_WINDOW_MS act at once, whatever the grace: a link that keeps dropping is not up. */
export const FLAP_LIMIT = 3;
const FLAP_WINDOW_MS = 60_000;

export class RobotLink {
  rejectedMessages = 0;
  private readonly client: MqttClient;
  private readonly log: Logger;
  private commandHandler: ((cmd: CommandMessage) => void) | null = null;
  private reconnectMs = 1000;
  private lastStatus: StatusMessage | null = null;
  /** Extra subscriptions (policy manifests and pieces), renewed on every reconnect. Handlers get raw payloads. */
  private readonly subscriptions = new Map<string, (topic: string, payload: Buffer) => void>();
  private linkLostHandler: ((action: 'estop' | 'pause', reason: string) => void) | null = null;
  private readonly lossAction: LinkLossAction;
  private readonly graceMs: number;
  /** Times (ms) of recent connection losses, within FLAP_WINDOW_MS. */
  private losses: number[] = [];
  private lostAt: number | null = null;
  private actedOnLoss: string | null = null;
  private graceTimer: NodeJS.Timeout | null = null;
  private wasConnected = false;
  private closing = false;

  constructor(private readonly o: RobotLinkOptions) {
    this.log = o.logger;
    this.lossAction = o.onDisconnect ?? 'pause';
    this.graceMs = o.disconnectGraceMs ?? 2000;
    const will: StatusMessage = {
      v: CONTRACT_VERSION, robot: o.robotId, online: false, state: null, reason: 'connection lost',
      policy: null, transport: null, stamp: new Date().toISOString(),
    };
    this.client = mqtt.connect(o.url, {
      clientId: `striatum-${o.robotId}`,
      username: o.username,
      password: o.password,
      keepalive: o.keepaliveS,
      clean: true,
      reconnectPeriod: this.reconnectMs,
      connectTimeout: 5000,
      // QoS 0 telemetry is worthless once stale: never queue it in memory while offline.
      queueQoSZero: false,
      will: { topic: topics.status(o.robotId), payload: Buffer.from(JSON.stringify(will)), qos: 1, retain: true },
    });
    this.client.on('connect', () => {
      this.reconnectMs = 1000;
      this.client.options.reconnectPeriod = this.reconnectMs;
      this.log.info('MQTT connected', { url: o.url, client_id: `striatum-${o.robotId}` });
      this.wasConnected = true;
      this.client.subscribe(topics.cmd(o.robotId), { qos: 1 }, (err, granted) => {
        if (err || granted?.some((g) => g.qos === 128)) this.log.error('MQTT subscription to commands refused', { topic: topics.cmd(o.robotId) });
      });
      for (const filter of this.subscriptions.keys()) this.subscribeOnBroker(filter);
      if (this.lastStatus !== null) this.publishStatus(this.lastStatus);
      this.reportRecovery();
    });
    this.client.on('close', () => {
      if (this.wasConnected && !this.closing) this.connectionLost();
      this.wasConnected = false;
      // Back off up to 30 s so a fleet does not hammer a recovering broker.
      this.reconnectMs = Math.min(this.reconnectMs * 2, MAX_RECONNECT_MS);
      this.client.options.reconnectPeriod = this.reconnectMs;
    });
    this.client.on('error', (err) => this.log.warn('MQTT error', { error: err.message }));
    this.client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet.retain));
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /** Wait for the first connection, at most connectWaitMs; the robot runs either way. */
  async start(): Promise<boolean> {
    if (this.client.connected) return true;
    const ok = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => { this.client.off('connect', onConnect); resolve(false); }, this.o.connectWaitMs);
      const onConnect = (): void => { clearTimeout(timer); resolve(true); };
      this.client.once('connect', onConnect);
    });
    if (!ok) this.log.warn('MQTT broker not reachable yet; running without it and retrying', { url: this.o.url });
    return ok;
  }

  /**
   * Called when the robot must stop because it cannot hear commands: the link has been down for the grace
   * period, or it dropped FLAP_LIMIT times within a minute (someone or something keeps kicking it off).
   * Not called when onDisconnect is 'continue'.
   */
  onLinkLost(handler: (action: 'estop' | 'pause', reason: string) => void): void {
    this.linkLostHandler = handler;
  }

  private connectionLost(): void {
    const now = Date.now();
    this.losses = this.losses.filter((t) => now - t < FLAP_WINDOW_MS);
    this.losses.push(now);
    this.lostAt = now;
    this.log.warn('MQTT connection lost: commands and e-stops cannot reach the robot', { losses_last_minute: this.losses.length, on_disconnect: this.lossAction, grace_ms: this.graceMs });
    if (this.lossAction === 'continue') return;
    if (this.losses.length >= FLAP_LIMIT) {
      this.actOnLoss(`MQTT link lost ${this.losses.length} times in a minute: e-stops may not reach the robot`);
      return;
    }
    if (this.graceTimer === null) {
      this.graceTimer = setTimeout(() => {
        this.graceTimer = null;
        this.actOnLoss(`MQTT link down for more than ${this.graceMs} ms: e-stops cannot reach the robot`);
      }, this.graceMs);
      this.graceTimer.unref();
    }
  }

  private actOnLoss(reason: string): void {
    if (this.graceTimer !== null) { clearTimeout(this.graceTimer); this.graceTimer = null; }
    if (this.lossAction === 'continue' || this.actedOnLoss !== null || this.closing) return;
    this.actedOnLoss = reason;
    this.log.error(`MQTT link lost: ${this.lossAction}`, { reason });
    this.linkLostHandler?.(this.lossAction, reason);
  }

  /** Back online after a loss: say how long the robot was deaf and what it did about it. */
  private reportRecovery(): void {
    if (this.graceTimer !== null) { clearTimeout(this.graceTimer); this.graceTimer = null; }
    if (this.lostAt === null) return;
    const downMs = Date.now() - this.lostAt;
    const acted = this.actedOnLoss;
    this.lostAt = null;
    this.actedOnLoss = null;
    this.publishEvent({
      kind: 'connection', code: acted !== null ? `mqtt_reconnected_after_${this.lossAction}` : 'mqtt_reconnected',
      message: `MQTT link was down ${downMs} ms (${this.losses.length} losses in the last minute)` +
        (acted !== null ? `; ${acted}, so the robot went to ${this.lossAction === 'pause' ? 'paused: send resume' : 'estopped: send arm, then resume'}` : ''),
    });
  }

  onCommand(handler: (cmd: CommandMessage) => void): void {
    this.commandHandler = handler;
  }

  /**
   * Subscribe to a topic filter (QoS 1; + and # allowed). The handler gets the raw payload and validates it itself:
   * this link does not know the message's schema. Kept across reconnects.
   */
  subscribe(filter: string, handler: (topic: string, payload: Buffer) => void): void {
    this.subscriptions.set(filter, handler);
    if (this.client.connected) this.subscribeOnBroker(filter);
  }

  unsubscribe(filter: string): void {
    if (!this.subscriptions.delete(filter)) return;
    if (this.client.connected) this.client.unsubscribe(filter);
  }

  private subscribeOnBroker(filter: string): void {
    this.client.subscribe(filter, { qos: 1 }, (err, granted) => {
      if (err || granted?.some((g) => g.qos === 128)) this.log.error('MQTT subscription refused', { topic: filter });
    });
  }

  private onMessage(topic: string, payload: Buffer, retained: boolean): void {
    if (this.subscriptions.size > 0) {
      for (const [filter, handler] of this.subscriptions) {
        if (topicMatches(filter, topic)) handler(topic, payload);
      }
    }
    if (topic !== topics.cmd(this.o.robotId)) return;
    if (retained) {
      // A retained command is replayed by the broker on every reconnect: a stored `resume` would move a paused
      // robot to running each time the link comes back. Commands count only when sent live.
      this.rejectedMessages++;
      this.log.warn('rejected retained command: commands must be sent without the retain flag', { topic, rejected_total: this.rejectedMessages });
      this.publishEvent({ kind: 'rejected_message', code: 'retained_command', message: `${topic}: retained command ignored; send commands without retain and clear the retained one (publish an empty retained message)` });
      return;
    }
    const parsed = parseInbound(CommandMessageSchema, payload);
    if (!parsed.ok) {
      this.rejectedMessages++;
      this.log.warn('rejected malformed command', { topic, error: parsed.error, rejected_total: this.rejectedMessages });
      this.publishEvent({ kind: 'rejected_message', code: 'malformed_command', message: `${topic}: ${parsed.error}` });
      return;
    }
    this.commandHandler?.(parsed.value);
  }

  publishStatus(status: StatusMessage): void {
    this.lastStatus = status;
    if (!this.client.connected) return; // re-sent on connect
    this.client.publish(topics.status(this.o.robotId), JSON.stringify(status), { qos: 1, retain: true });
  }

  publishTelemetry(msg: TelemetryMessage): void {
    if (!this.client.connected) return;
    this.client.publish(topics.telemetry(this.o.robotId), JSON.stringify(msg), { qos: 0 });
  }

  publishReward(msg: RewardMessage): void {
    if (!this.client.connected) return;
    this.client.publish(topics.reward(this.o.robotId), JSON.stringify(msg), { qos: 0 });
  }

  /** A camera's JPEG frame for dashboards: QoS 0, never retained, dropped while offline. */
  publishCameraFrame(camera: string, jpeg: Buffer): void {
    if (!this.client.connected) return;
    this.client.publish(topics.camera(this.o.robotId, camera), jpeg, { qos: 0, retain: false });
  }

  publishEpisode(msg: EpisodeMessage): void {
    this.client.publish(topics.episode(this.o.robotId), JSON.stringify(msg), { qos: 1 });
  }

  publishEvent(e: Pick<EventMessage, 'kind' | 'code' | 'message'>): void {
    if (!this.client.connected) return;
    const msg: EventMessage = { v: CONTRACT_VERSION, robot: this.o.robotId, stamp: new Date().toISOString(), ...e };
    this.client.publish(topics.event(this.o.robotId), JSON.stringify(msg), { qos: 1 });
  }

  /** Publish the final offline status, then disconnect cleanly (so the will is not sent). */
  async close(finalStatus: StatusMessage): Promise<void> {
    this.closing = true;
    if (this.graceTimer !== null) { clearTimeout(this.graceTimer); this.graceTimer = null; }
    if (this.client.connected) {
      await new Promise<void>((resolve) => {
        this.client.publish(topics.status(this.o.robotId), JSON.stringify(finalStatus), { qos: 1, retain: true }, () => resolve());
        setTimeout(resolve, 1000);
      });
    }
    await this.client.endAsync().catch(() => undefined);
  }
}

/** MQTT topic filter matching: + is one level, # the rest. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

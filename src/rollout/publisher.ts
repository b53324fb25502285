// Publishes spooled chunks (QoS 1) and deletes each only when the updater's end-to-end ack arrives: the broker's
// PUBACK says nothing about the store. Unacked chunks are resent after a timeout that doubles per attempt, and
// all of them after every reconnect; on start the backlog on disk goes first, oldest first.
//
// A dedicated MQTT connection, not the robot link's (client id `striatum-<robot>-rollout` with the robot's own
// credentials, or the rollout account's username as client id when rollout.mqtt gives one): a backlog of
// megabyte chunks draining after an outage must never sit in front of an e-stop command or the retained status
// on the same TCP stream, and the link's last will stays about the robot, not about this queue. MQTT.js's own in-memory store (16-bit ids, lost on a crash) is only a transport
// detail here; the spool is the source of truth, and at most `maxInflight` chunks are ever handed to MQTT.js.
import mqtt, { type MqttClient } from 'mqtt';
import { CONTRACT_VERSION, parseInbound, type EventMessage } from '../contracts/messages.js';
import { RolloutAckSchema } from '../contracts/rollout.js';
import { topics } from '../contracts/topics.js';
import { LatencyHistogram } from '../util/histogram.js';
import { crc32c } from '../transports/serial/crc32c.js';
import type { Logger } from '../log.js';
import { noDelay } from './no-delay.js';
import type { RecorderAlarm } from './recorder.js';
import type { SpoolEntry } from './spool-dir.js';
import type { Spool } from './spool.js';
import type { RolloutEventCode } from '../contracts/event-codes.js';

export interface PublisherOptions {
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly robotId: string;
  readonly spool: Spool;
  readonly logger: Logger;
  readonly ackTimeoutMs: number;
  readonly ackTimeoutMaxMs: number;
  readonly maxInflight: number;
  /** Chunk bytes kept in memory for publishing; chunks beyond it are read back from the spool when due. */
  readonly memoryBudgetBytes: number;
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  readonly keepaliveS: number;
  /** Default `striatum-<robot>-rollout`; a rollout account of its own connects with its username. */
  readonly clientId?: string;
}

export interface PublisherStats {
  published: number;
  resent: number;
  acked: number;
  duplicates: number;
  rejected: number;
  corrupt: number;
  staleAcks: number;
  /** Acks that were not valid JSON or did not match the ack schema: rejected and counted, never acted on. */
  malformedAcks: number;
  connects: number;
}

type State = 'queued' | 'loading' | 'sent';

interface Pending {
  readonly spool: SpoolEntry;
  payload: Uint8Array | null;
  state: State;
  sentAt: number;
  timeoutMs: number;
  attempts: number;
}

const keyOf = (episode: string, chunk: number) => `${episode}#${chunk}`;

export class RolloutPublisher {
  readonly stats: PublisherStats = { published: 0, resent: 0, acked: 0, duplicates: 0, rejected: 0, corrupt: 0, staleAcks: 0, malformedAcks: 0, connects: 0 };
  private readonly client: MqttClient;
  private readonly log: Logger;
  /** Unacked chunks in spool order (a Map keeps insertion order). */
  private readonly pending = new Map<string, Pending>();
  private inflight = 0;
  /** Bytes of chunk payloads held in memory (the rest of the backlog is on disk only). */
  private heldBytes = 0;
  private ready = false;
  private reconnectMs: number;
  private readonly timer: NodeJS.Timeout;
  private unsentAlarm: EventMessage | null = null;
  private closed = false;
  private drainWaiters: (() => void)[] = [];
  /** Publish → end-to-end ack, in µs, for chunks acked on their first attempt. */
  readonly ackLatency = new LatencyHistogram();

  constructor(private readonly o: PublisherOptions) {
    this.log = o.logger;
    this.reconnectMs = o.reconnectMinMs;
    for (const e of o.spool.backlog) this.enqueue(e, null);
    o.spool.onWritten = (entry, payload) => this.enqueue(entry, payload);
    const clientId = o.clientId ?? `striatum-${o.robotId}-rollout`;
    this.client = mqtt.connect(o.url, {
      clientId, username: o.username, password: o.password, keepalive: o.keepaliveS,
      clean: true, reconnectPeriod: this.reconnectMs, connectTimeout: 5000, queueQoSZero: false,
    });
    this.client.on('connect', () => this.connected());
    this.client.on('close', () => {
      if (this.ready) this.log.warn('rollout MQTT connection lost', { backlog_chunks: this.pending.size });
      this.ready = false;
      // Back off so a fleet does not hammer a recovering broker.
      this.reconnectMs = Math.min(this.reconnectMs * 2, o.reconnectMaxMs);
      this.client.options.reconnectPeriod = this.reconnectMs;
    });
    this.client.on('error', (err) => this.log.warn('rollout MQTT error', { error: err.message }));
    this.client.on('message', (topic, payload) => this.onAck(topic, payload));
    this.timer = setInterval(() => this.checkTimeouts(), Math.max(50, Math.min(500, o.ackTimeoutMs / 4)));
    this.timer.unref();
  }

  /** Chunks not yet acknowledged by the updater (on disk, in flight or queued). */
  get backlog(): number {
    return this.pending.size;
  }

  get connectedToBroker(): boolean {
    return this.ready;
  }

  /** Resolves when every chunk handed over so far is acknowledged, or after timeoutMs; true when drained. */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.pending.size === 0 && this.o.spool.writesPending === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => { clearTimeout(t); resolve(true); };
      const t = setTimeout(() => { this.drainWaiters = this.drainWaiters.filter((w) => w !== done); resolve(false); }, timeoutMs);
      this.drainWaiters.push(done);
    });
  }

  /** Recording paused or resumed: an event on the robot's event topic (kept and sent on reconnect if offline). */
  publishAlarm(a: RecorderAlarm): void {
    const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
    const message = a.state === 'paused'
      ? `rollout recording paused (${a.reason}): spool holds ${mb(a.spoolBytes)} of ${mb(a.spoolMaxBytes)}; steps are counted, not recorded, until it drains; ${a.unrecordedSteps} not recorded so far`
      : `rollout recording resumed after ${a.reason}: ${a.pausedSteps} steps were not recorded during the pause (${a.unrecordedSteps} in total)`;
    this.publishEvent(`rollout_${a.state}`, message);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.client.endAsync().catch(() => undefined);
  }

  private publishEvent(code: RolloutEventCode, message: string): void {
    const msg: EventMessage = { v: CONTRACT_VERSION, robot: this.o.robotId, kind: 'fault', code, message, stamp: new Date().toISOString() };
    if (!this.ready) { this.unsentAlarm = msg; return; }
    this.client.publish(topics.event(this.o.robotId), JSON.stringify(msg), { qos: 1 });
  }

  private enqueue(entry: SpoolEntry, payload: Uint8Array | null): void {
    const key = keyOf(entry.episode, entry.chunk);
    if (this.pending.has(key)) return;
    // Keep the bytes in memory up to a budget; beyond it (a long outage) they are read back from disk in turn.
    const keep = payload !== null && this.heldBytes + payload.byteLength <= this.o.memoryBudgetBytes ? payload : null;
    if (keep !== null) this.heldBytes += keep.byteLength;
    this.pending.set(key, { spool: entry, payload: keep, state: 'queued', sentAt: 0, timeoutMs: this.o.ackTimeoutMs, attempts: 0 });
    this.pump();
  }

  private connected(): void {
    // Small acks behind a large chunk must not wait for Nagle + delayed ACK (~40 ms per round trip on Linux).
    noDelay(this.client);
    this.reconnectMs = this.o.reconnectMinMs;
    this.client.options.reconnectPeriod = this.reconnectMs;
    this.stats.connects++;
    this.client.subscribe(topics.rolloutAck(this.o.robotId), { qos: 1 }, (err, granted) => {
      if (err || granted?.some((g) => g.qos === 128)) {
        this.log.error('rollout: subscription to acks refused; chunks stay on disk', { topic: topics.rolloutAck(this.o.robotId), error: err?.message ?? null });
        return;
      }
      this.ready = true;
      this.log.info('rollout publisher connected', { url: this.o.url, backlog_chunks: this.pending.size });
      // Everything that was in flight on the old connection goes again.
      for (const p of this.pending.values()) {
        if (p.state === 'sent') {
          p.state = 'queued';
          this.inflight--;
        }
      }
      if (this.unsentAlarm !== null) {
        const a = this.unsentAlarm;
        this.unsentAlarm = null;
        this.client.publish(topics.event(this.o.robotId), JSON.stringify(a), { qos: 1 });
      }
      this.pump();
    });
  }

  private pump(): void {
    if (!this.ready || this.closed) return;
    for (const p of this.pending.values()) {
      if (this.inflight >= this.o.maxInflight) break;
      if (p.state !== 'queued') continue;
      // A chunk read back from disk is held while in flight: a backlog of large chunks (camera frames) keeps the
      // window within the memory budget, one chunk at least, oldest first.
      if (p.payload === null && this.inflight > 0 && this.heldBytes + p.spool.bytes > this.o.memoryBudgetBytes) break;
      void this.send(p);
    }
  }

  private async send(p: Pending): Promise<void> {
    p.state = 'loading';
    this.inflight++;
    if (p.payload === null) {
      const bytes = await this.o.spool.read(p.spool);
      const key = keyOf(p.spool.episode, p.spool.chunk);
      if (this.pending.get(key) !== p) return; // acked meanwhile (a late ack of an earlier send)
      if (bytes === null) {
        this.stats.corrupt++;
        this.log.error('rollout: spooled chunk is damaged or gone; quarantined, not published', { file: p.spool.file, offset: p.spool.offset, episode: p.spool.episode, chunk: p.spool.chunk });
        this.publishEvent('rollout_corrupt', `spooled chunk ${p.spool.episode}/${p.spool.chunk} (${p.spool.file}${p.spool.offset === null ? '' : ` at byte ${p.spool.offset}`}) failed its check and was quarantined`);
        this.o.spool.discarded(p.spool);
        this.forget(key, p);
        this.pump();
        return;
      }
      p.payload = bytes;
      this.heldBytes += bytes.byteLength;
    }
    if (!this.ready) { // connection dropped while reading; connected() requeues
      p.state = 'sent';
      p.sentAt = 0;
      return;
    }
    this.publishNow(p);
  }

  private publishNow(p: Pending): void {
    const payload = p.payload as Uint8Array;
    p.state = 'sent';
    p.sentAt = performance.now();
    if (p.attempts > 0) this.stats.resent++;
    p.attempts++;
    this.stats.published++;
    this.client.publish(topics.rollout(this.o.robotId), Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { qos: 1 }, (err) => {
      if (err && !this.closed) this.log.debug('rollout publish did not complete', { file: p.spool.file, error: err.message });
    });
  }

  private checkTimeouts(): void {
    if (!this.ready) return;
    const now = performance.now();
    for (const p of this.pending.values()) {
      if (p.state !== 'sent' || now - p.sentAt < p.timeoutMs) continue;
      p.timeoutMs = Math.min(p.timeoutMs * 2, this.o.ackTimeoutMaxMs);
      this.log.debug('rollout: no ack in time; resending', { episode: p.spool.episode, chunk: p.spool.chunk, attempt: p.attempts + 1 });
      this.publishNow(p);
    }
  }

  private onAck(topic: string, payload: Buffer): void {
    if (topic !== topics.rolloutAck(this.o.robotId)) return;
    const parsed = parseInbound(RolloutAckSchema, payload);
    if (!parsed.ok) {
      this.stats.malformedAcks++;
      if (this.stats.malformedAcks === 1 || this.stats.malformedAcks % 100 === 0) {
        this.log.warn('rollout: rejected a malformed ack', { error: parsed.error, malformed_acks: this.stats.malformedAcks });
      }
      return;
    }
    const ack = parsed.value;
    let key: string | null = ack.episode !== null && ack.chunk !== null ? keyOf(ack.episode, ack.chunk) : null;
    // A rejection the updater could not name by identity names the payload by its CRC-32C.
    if (key === null && ack.crc32c !== undefined) key = this.sentWithCrc(ack.crc32c);
    const p = key === null ? undefined : this.pending.get(key);
    if (ack.robot !== this.o.robotId || p === undefined || key === null) {
      this.stats.staleAcks++;
      return;
    }
    if (ack.status === 'rejected') {
      // The updater will never take this chunk: resending it would go on forever. Set aside, keep recording.
      this.stats.rejected++;
      const { episode, chunk } = p.spool;
      this.log.error('rollout: the updater rejected a chunk; quarantined on the robot', { episode, chunk, reason: ack.reason ?? null });
      this.publishEvent('rollout_rejected', `updater rejected chunk ${chunk} of episode ${episode}: ${ack.reason ?? 'no reason given'}`);
      this.o.spool.quarantine(p.spool, 'rejected');
    } else {
      if (ack.status === 'duplicate') this.stats.duplicates++;
      if (p.attempts === 1 && p.state === 'sent') this.ackLatency.record((performance.now() - p.sentAt) * 1000);
      this.stats.acked++;
      this.o.spool.remove(p.spool);
    }
    this.forget(key, p);
    this.pump();
  }

  /** The key of a published chunk whose payload has this CRC-32C (only chunks in flight hold their payload). */
  private sentWithCrc(crc: number): string | null {
    for (const [key, p] of this.pending) {
      if (p.state === 'sent' && p.payload !== null && crc32c(p.payload) === crc) return key;
    }
    return null;
  }

  private forget(key: string, p: Pending): void {
    this.pending.delete(key);
    if (p.state !== 'queued') this.inflight--;
    if (p.payload !== null) this.heldBytes -= p.payload.byteLength;
    p.payload = null;
    if (this.pending.size === 0 && this.o.spool.writesPending === 0 && this.drainWaiters.length > 0) {
      const w = this.drainWaiters;
      this.drainWaiters = [];
      for (const f of w) f();
    }
  }
}


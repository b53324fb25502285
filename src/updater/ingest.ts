// The updater's edge: one inbound rollout message in, at most one ack out. Pure of MQTT (the runner passes
// topic and payload), so it is tested directly. Order per chunk: size cap → decode → version → schema →
// columns → robot id against the topic (the broker's ACL vouches for the topic, not for the payload) → store
// (one transaction, durable) → ack. A store failure sends no ack: the robot resends later.
import {
  ROLLOUT_VERSION, decodeRolloutChunk, peekChunkIdentity, type RejectCode, type RolloutAck, type UpdaterStatus,
} from '../contracts/rollout.js';
import { robotOfTopic, topics } from '../contracts/topics.js';
import { crc32c } from '../transports/serial/crc32c.js';
import type { Logger } from '../log.js';
import type { RolloutStore } from './store.js';

export interface IngestResult {
  readonly outcome: 'stored' | 'duplicate' | 'rejected' | 'ignored' | 'store_failed';
  readonly ack: RolloutAck | null;
  readonly ackTopic: string | null;
}

export class Ingest {
  readonly counts = { stored: 0, duplicate: 0, rejected: 0 };
  readonly rejectedByCode: Record<string, number> = {};
  stepsStored = 0;
  episodesComplete = 0;
  unrecordedSteps = 0;
  storeFailures = 0;
  lastRejection: UpdaterStatus['last_rejection'] = null;

  constructor(private readonly store: RolloutStore, private readonly o: { readonly maxChunkBytes: number; readonly logger: Logger }) {}

  handle(topic: string, payload: Uint8Array): IngestResult {
    const robot = robotOfTopic(topic);
    if (robot === null || topic !== topics.rollout(robot)) return { outcome: 'ignored', ack: null, ackTopic: null };
    const decoded = decodeRolloutChunk(payload, { maxBytes: this.o.maxChunkBytes });
    if (!decoded.ok) {
      // A chunk that will never be accepted is always answered, or the robot would resend it forever: by its
      // identity (decoded, or read from its first bytes when it is too big or damaged), else by its CRC-32C.
      const id = decoded.identity ?? peekChunkIdentity(payload);
      const named = id !== null && id.robot === robot ? id : null;
      return this.rejected(robot, decoded.code, decoded.error, named, named === null ? crc32c(payload) : null);
    }
    const chunk = decoded.value;
    const h = chunk.header;
    if (h.robot !== robot) {
      return this.rejected(robot, 'robot_mismatch', `chunk says robot "${h.robot}" but arrived on ${topic}`, { episode: h.episode, chunk: h.chunk });
    }
    let status: 'stored' | 'duplicate';
    try {
      const r = this.store.storeChunk(chunk, payload.byteLength);
      status = r.status;
      if (r.completed) this.episodesComplete++;
    } catch (err) {
      this.storeFailures++;
      this.o.logger.error('rollout store failed; not acknowledging (the robot will resend)', { robot, episode: h.episode, chunk: h.chunk, error: (err as Error).message });
      return { outcome: 'store_failed', ack: null, ackTopic: null };
    }
    this.counts[status]++;
    if (status === 'stored') {
      this.stepsStored += h.n;
      this.unrecordedSteps += h.skipped_steps;
      if (h.skipped_steps > 0) this.o.logger.warn('robot reports steps it could not record', { robot, episode: h.episode, chunk: h.chunk, skipped_steps: h.skipped_steps });
    }
    return { outcome: status, ack: { v: ROLLOUT_VERSION, robot, episode: h.episode, chunk: h.chunk, status }, ackTopic: topics.rolloutAck(robot) };
  }

  private rejected(robot: string, code: RejectCode, error: string, id: { episode: string; chunk: number } | null, payloadCrc: number | null = null): IngestResult {
    this.counts.rejected++;
    this.rejectedByCode[code] = (this.rejectedByCode[code] ?? 0) + 1;
    this.lastRejection = { robot, code, reason: error.slice(0, 300), stamp: new Date().toISOString() };
    this.o.logger.warn('rejected a rollout chunk', { robot, code, error, episode: id?.episode ?? null, chunk: id?.chunk ?? null, rejected_total: this.counts.rejected });
    const reason = `${code}: ${error}`.slice(0, 300);
    let ack: RolloutAck;
    if (id !== null) ack = { v: ROLLOUT_VERSION, robot, episode: id.episode, chunk: id.chunk, status: 'rejected', reason };
    else if (payloadCrc !== null) ack = { v: ROLLOUT_VERSION, robot, episode: null, chunk: null, status: 'rejected', reason, crc32c: payloadCrc };
    else return { outcome: 'rejected', ack: null, ackTopic: null };
    return { outcome: 'rejected', ack, ackTopic: topics.rolloutAck(robot) };
  }
}

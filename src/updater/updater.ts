// `striatum updater`: subscribes to every robot's rollout topic, validates, stores, then acks. Against an
// MQTT 5 broker (Mosquitto, EMQX, HiveMQ) it joins a shared subscription, so several updaters split the load;
// against an MQTT 3.1.1 broker (the embedded aedes) it falls back to a plain subscription and says so.
// Sessions are clean: while no updater is up the robots' spools are the queue, and their resends refill it.
import { hostname } from 'node:os';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { ROLLOUT_VERSION, type UpdaterEvent, type UpdaterStatus } from '../contracts/rollout.js';
import { topics } from '../contracts/topics.js';
import { noDelay } from '../rollout/no-delay.js';
import { StriatumError } from '../errors.js';
import type { Logger } from '../log.js';
import { storeForLog, storeLocation, updaterPassword, type UpdaterConfig } from './config.js';
import type { EpisodeStore } from './episode-store.js';
import { Ingest } from './ingest.js';
import { openEpisodeStore } from './open-store.js';
import { TRAINING_STATUS_TOPIC, TrainingRounds, type TrainingStatus } from './training.js';
import type { PolicyMetadata } from '../policy/metadata.js';
import { expectationsFromMetadata, findPolicyInDir, loadPrivateKey, releasePolicy, validateForRelease } from './registry.js';

export interface UpdaterOptions {
  readonly config: UpdaterConfig;
  readonly logger: Logger;
  /** A training round produced a validated model directory (the registry signs and publishes it). */
  readonly onModelReady?: (dir: string, meta: PolicyMetadata) => void | Promise<void>;
  /** PostgreSQL: give up after this long unreachable at start (default: keep retrying with backoff). */
  readonly storeMaxWaitMs?: number;
}

export type SubscriptionKind = 'shared' | 'plain';

export interface RunningUpdater {
  readonly id: string;
  readonly store: EpisodeStore;
  readonly ingest: Ingest;
  readonly subscription: SubscriptionKind;
  /** Training rounds, when training.enabled; null otherwise. */
  readonly training: TrainingRounds | null;
  status(online: boolean): UpdaterStatus;
  close(): Promise<void>;
}

const PROTOCOL_REFUSED = /unacceptable protocol version|unsupported protocol version/i;

/** MQTT 5 when the broker speaks it and offers shared subscriptions; else MQTT 3.1.1 and a plain subscription. */
async function detectBroker(url: string, base: IClientOptions, log: Logger, maxWaitMs: number): Promise<{ protocolVersion: 4 | 5; subscription: SubscriptionKind }> {
  let delay = 250;
  for (;;) {
    const r = await new Promise<{ kind: 'v5'; shared: boolean } | { kind: 'v4' } | { kind: 'retry'; error: string } | { kind: 'fatal'; error: string }>((resolve) => {
      const c = mqtt.connect(url, { ...base, clientId: `${base.clientId as string}-probe`, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000 });
      const finish = (v: Parameters<typeof resolve>[0]) => { c.removeAllListeners(); c.on('error', () => {}); c.end(true); resolve(v); };
      c.once('connect', (packet) => finish({ kind: 'v5', shared: packet.properties?.sharedSubscriptionAvailable !== false }));
      c.once('error', (err: Error & { code?: number | string }) => {
        if (PROTOCOL_REFUSED.test(err.message) || err.code === 1 || err.code === 132) finish({ kind: 'v4' });
        else if (/not authori[sz]ed|bad user ?name or password/i.test(err.message) || err.code === 134 || err.code === 135 || err.code === 4 || err.code === 5) finish({ kind: 'fatal', error: err.message });
        else finish({ kind: 'retry', error: err.message });
      });
      c.once('close', () => finish({ kind: 'retry', error: 'connection closed' }));
    });
    if (r.kind === 'v5') return { protocolVersion: 5, subscription: r.shared ? 'shared' : 'plain' };
    if (r.kind === 'v4') return { protocolVersion: 4, subscription: 'plain' };
    if (r.kind === 'fatal') throw new StriatumError('STRIATUM_ERR_MQTT', `broker ${url} refused the updater: ${r.error}`);
    if (maxWaitMs <= 0) throw new StriatumError('STRIATUM_ERR_MQTT', `broker ${url} not reachable: ${r.error}`);
    log.warn('broker not reachable yet; retrying', { url, error: r.error, retry_ms: delay });
    await new Promise((res) => setTimeout(res, delay));
    maxWaitMs -= delay;
    delay = Math.min(delay * 2, 5000);
  }
}

export async function runUpdater(options: UpdaterOptions): Promise<RunningUpdater> {
  const cfg = options.config;
  const log = options.logger;
  const id = cfg.id ?? `updater-${hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 40)}-${process.pid}`;
  const store = await openEpisodeStore(storeLocation(cfg), {
    logger: log, maxWaitMs: options.storeMaxWaitMs, maxBytes: cfg.store.max_mb === undefined ? undefined : cfg.store.max_mb * 1024 * 1024,
  });
  // Alarms for a full store: published at once when connected, else the latest is sent on the next connect.
  let eventClient: MqttClient | null = null;
  let unsentEvent: UpdaterEvent | null = null;
  const publishEvent = (code: UpdaterEvent['code'], message: string, queued: number): void => {
    const event: UpdaterEvent = { v: ROLLOUT_VERSION, updater: id, kind: 'store', code, message, stamp: new Date().toISOString(), store: storeForLog(cfg), queued_chunks: queued };
    if (eventClient === null || !eventClient.connected) { unsentEvent = event; return; }
    eventClient.publish(topics.updaterEvent(), JSON.stringify(event), { qos: 1 });
  };
  const ingest = new Ingest(store, {
    maxChunkBytes: cfg.max_chunk_bytes, logger: log,
    onStoreFull: (e) => publishEvent('store_full', `rollout store ${storeForLog(cfg)} is full (${e.error}): ingest paused, nothing acknowledged that is not stored; the robots' spools hold the data`, e.queued),
    onStoreResumed: (e) => publishEvent('store_resumed', `rollout store ${storeForLog(cfg)} is writable again after ${Math.round(e.pausedMs / 1000)} s: ingest resumed`, e.queued),
  });
  const started = new Date().toISOString();
  const password = updaterPassword(cfg);
  const base: IClientOptions = {
    clientId: id, username: cfg.broker.username, keepalive: cfg.broker.keepalive_s, clean: true,
    ...(password !== undefined ? { password } : {}),
  };
  let detected: { protocolVersion: 4 | 5; subscription: SubscriptionKind };
  try {
    detected = await detectBroker(cfg.broker.url, base, log, 10 * 60_000);
  } catch (err) {
    await store.close();
    throw err;
  }
  const subscription = detected.subscription;
  const leafFilters = cfg.robots === null ? [topics.allRobots('rollout')] : cfg.robots.map((r) => topics.rollout(r));
  const filters = subscription === 'shared' ? leafFilters.map((f) => topics.shared(cfg.share_group, f)) : leafFilters;
  if (subscription === 'plain') {
    log.warn(detected.protocolVersion === 4
      ? 'broker speaks MQTT 3.1.1 only (e.g. the embedded aedes): plain subscription, no shared-subscription load balancing; run one updater per broker or shard by robot'
      : 'broker offers no shared subscriptions: plain subscription', { url: cfg.broker.url });
  }

  const status = (online: boolean): UpdaterStatus => ({
    v: ROLLOUT_VERSION, updater: id, online, stamp: new Date().toISOString(), started, subscription,
    chunks: { ...ingest.counts }, rejected_by_code: { ...ingest.rejectedByCode }, steps_stored: ingest.stepsStored,
    episodes_complete: ingest.episodesComplete, unrecorded_steps: ingest.unrecordedSteps, last_rejection: ingest.lastRejection,
  });
  const will = JSON.stringify(status(false));
  let reconnectMs = cfg.broker.reconnect_min_ms;
  const client: MqttClient = mqtt.connect(cfg.broker.url, {
    ...base, protocolVersion: detected.protocolVersion, reconnectPeriod: reconnectMs, connectTimeout: 5000, resubscribe: false,
    will: { topic: topics.updaterStatus(), payload: Buffer.from(will), qos: 1, retain: true },
  });

  let statusDirty = true;
  let lastStatusMs = 0;
  const intervalMs = cfg.status_interval_s * 1000;
  // Retained status: at once when forced, within a second of a change, and at least every status_interval_s.
  const publishStatus = (force: boolean): void => {
    if (!client.connected) return;
    const since = Date.now() - lastStatusMs;
    if (!force && !(statusDirty && since >= 1000) && since < intervalMs) return;
    statusDirty = false;
    lastStatusMs = Date.now();
    client.publish(topics.updaterStatus(), JSON.stringify(status(true)), { qos: 1, retain: true });
  };

  eventClient = client;
  client.on('connect', () => {
    noDelay(client); // acks are small writes: no Nagle delay behind the previous PUBACK
    if (unsentEvent !== null) {
      client.publish(topics.updaterEvent(), JSON.stringify(unsentEvent), { qos: 1 });
      unsentEvent = null;
    }
    reconnectMs = cfg.broker.reconnect_min_ms;
    client.options.reconnectPeriod = reconnectMs;
    client.subscribe(filters, { qos: 1 }, (err, granted) => {
      const refused = granted?.filter((g) => g.qos === 128).map((g) => g.topic) ?? [];
      if (err || refused.length > 0) {
        log.error('rollout subscription refused', { filters, refused, error: err?.message ?? null });
        return;
      }
      log.info('updater subscribed', { filters, subscription, protocol: detected.protocolVersion === 5 ? 'MQTT 5' : 'MQTT 3.1.1', store: storeForLog(cfg) });
      publishStatus(true);
    });
  });
  client.on('close', () => {
    reconnectMs = Math.min(reconnectMs * 2, cfg.broker.reconnect_max_ms);
    client.options.reconnectPeriod = reconnectMs;
  });
  client.on('error', (err) => log.warn('updater MQTT error', { error: err.message }));
  // Training rounds: the trigger counts completed episodes; progress goes out retained, at most ~1/s mid-epoch.
  let lastTrainingPublishMs = 0;
  let lastTrainingState = '';
  const publishTraining = (s: TrainingStatus): void => {
    if (!client.connected) return;
    if (s.state === lastTrainingState && Date.now() - lastTrainingPublishMs < 1000) return;
    lastTrainingState = s.state;
    lastTrainingPublishMs = Date.now();
    client.publish(TRAINING_STATUS_TOPIC, JSON.stringify({ ...s, updater: id }), { qos: 1, retain: true });
  };
  const training = cfg.training !== null && cfg.training.enabled
    ? new TrainingRounds(store, cfg.training, log.child('training'), {
      onStatus: publishTraining,
      onModelReady: options.onModelReady ?? (cfg.release !== null ? releaseHook(cfg.release, client, log.child('registry'))
        : (dir, meta) => log.info('model ready; no release key configured, so it is not published', { dir, version: meta.version })),
    })
    : null;

  let completedSeen = 0;
  client.on('message', (topic, payload) => {
    void ingest.handle(topic, payload).then((r) => {
      if (r.outcome === 'ignored') return;
      if (training !== null && ingest.episodesComplete > completedSeen) training.episodeCompleted(ingest.episodesComplete - completedSeen);
      completedSeen = ingest.episodesComplete;
      statusDirty = true;
      // Stored (committed) first, acked second: an ack always means the chunk is durably in the store.
      if (r.ack !== null && r.ackTopic !== null && client.connected) client.publish(r.ackTopic, JSON.stringify(r.ack), { qos: 1 });
      publishStatus(false);
    });
  });
  const timer = setInterval(() => publishStatus(false), Math.min(1000, intervalMs));
  timer.unref();

  let closed = false;
  return {
    id, store, ingest, subscription, training, status,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      ingest.stop();
      await training?.close();
      if (client.connected) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 1000);
          client.publish(topics.updaterStatus(), JSON.stringify(status(false)), { qos: 1, retain: true }, () => { clearTimeout(t); resolve(); });
        });
      }
      await client.endAsync().catch(() => undefined);
      await store.close();
      log.info('updater stopped', {
        stored: ingest.counts.stored, steps_stored: ingest.stepsStored, duplicate: ingest.counts.duplicate, rejected: ingest.counts.rejected,
        batches: ingest.batches, store_ms: Math.round(ingest.storeMs),
      });
    },
  };
}

/** After a training round: validate the new model, sign its manifest and publish it with its pieces. */
function releaseHook(release: NonNullable<UpdaterConfig['release']>, client: MqttClient, log: Logger): (dir: string, meta: PolicyMetadata) => Promise<void> {
  const key = loadPrivateKey(release.key);
  return async (dir, meta) => {
    const { modelPath, metadataPath } = findPolicyInDir(dir);
    const spec = { ...expectationsFromMetadata(meta), actionAbsMax: release.action_abs_max ?? undefined };
    const report = await validateForRelease(modelPath, metadataPath, spec, undefined, log);
    if (!report.ok) {
      log.error('new policy failed release validation; not published', { version: meta.version, problems: report.problems });
      throw new StriatumError('STRIATUM_ERR_POLICY_LOAD', `policy ${meta.version} failed release validation: ${report.problems.join('; ')}`);
    }
    const manifest = await releasePolicy({ modelDir: dir, key, mqttClient: client, parentVersion: meta.parent_version ?? null, logger: log });
    log.info('policy released', { task: manifest.task, version: manifest.version, sha256: manifest.model.sha256, key_id: manifest.key_id });
  };
}

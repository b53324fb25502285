// Chunks the updater will never accept are answered with a negative ack and set aside on the robot, instead of
// being resent forever: a chunk larger than the updater's max_chunk_bytes (named from its first bytes) and a
// spooled chunk whose CRC holds but whose bytes do not decode (named by its CRC-32C). Recording goes on. Acks
// that are not acks are counted. Real embedded broker, real updater, real RolloutService.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeAccount } from '../src/broker/acl.js';
import { EmbeddedBroker } from '../src/broker/embedded-broker.js';
import { topics } from '../src/contracts/topics.js';
import { silentLogger } from '../src/log.js';
import { RolloutService } from '../src/rollout/rollout-service.js';
import { frameSpoolFile, spoolFileName } from '../src/rollout/spool-file.js';
import { UpdaterConfigSchema } from '../src/updater/config.js';
import { runUpdater } from '../src/updater/updater.js';
import { tempDir, waitFor } from './helpers/fixtures.js';
import { connectClient, watch } from './helpers/mqtt-watch.js';
import { sqliteStore } from './helpers/stores.js';

const ROBOT = 'arm-3';
const OBS = 64;

test('rejected chunks (too big, undecodable) are quarantined with a rollout_rejected event; recording goes on; malformed acks are counted', { timeout: 120_000 }, async () => {
  const dir = tempDir();
  const spoolDir = join(dir, 'spool');
  // A chunk a previous process spooled whose file is whole (its CRC holds) but whose bytes are not a chunk.
  mkdirSync(spoolDir, { recursive: true });
  const oldRun = '0f0f0f0f-1111-4222-8333-444444444444';
  writeFileSync(join(spoolDir, spoolFileName({ seq: 0, episode: `${oldRun}:0`, chunk: 0, final: false })), frameSpoolFile(new Uint8Array([0xc1, 0xc1, 0xc1, 7, 7, 7])));

  const broker = await EmbeddedBroker.start({
    host: '127.0.0.1', port: 0, wsPort: null, logger: silentLogger,
    accounts: [makeAccount(ROBOT, 'robot-pass', 'robot'), makeAccount('updater', 'updater-pass', 'updater')],
  });
  const updater = await runUpdater({
    logger: silentLogger,
    config: UpdaterConfigSchema.parse({
      broker: { url: broker.url, username: 'updater', password: 'updater-pass' }, store: { path: join(dir, 'store.sqlite') },
      max_chunk_bytes: 8192, // a 50-step chunk of this robot is about 14 KB: too big; a 5-step final chunk fits
    }),
  });
  const events = await watch(broker.url, 'updater', 'updater-pass', topics.event(ROBOT));
  const service = await RolloutService.start({
    robotId: ROBOT, task: 'push', observationFields: [{ name: 'state', size: OBS }], joints: ['x', 'y'], policyVersion: 'p1',
    stampOriginUnixMs: null, spoolDir, logger: silentLogger, mqtt: { url: broker.url, username: ROBOT, password: 'robot-pass' },
    config: { chunk_steps: 50, ack_timeout_ms: 300, ack_timeout_max_ms: 600 },
  });
  try {
    const view = { episode: 0, step: 0, stampMs: 0, observation: new Float64Array(OBS), action: new Float64Array(2), command: new Float64Array(2), progress: 0, done: false, truncated: false };
    for (let episode = 0; episode < 2; episode++) {
      service.recorder.onEpisodeStart({ episode, instruction: 'push' });
      for (let step = 0; step < 55; step++) {
        view.episode = episode;
        view.step = step;
        view.stampMs = step * 20;
        view.observation.fill(episode * 1000 + step);
        service.recorder.onStep(view, null);
      }
      service.recorder.onEpisodeEnd({ episode, instruction: 'push', outcome: 'success' });
    }
    // Waits on what a user would see (three rejection events, two stored episodes), not on the queues alone: both
    // queues are also empty before the first chunk has reached the spool worker.
    await waitFor('every chunk answered: stored or rejected', () =>
      events.json('/event').filter((e) => e.code === 'rollout_rejected').length >= 3 && sqliteStore(updater.store).listEpisodes().length >= 2 &&
      service.publisher.backlog === 0 && service.spool.writesPending === 0, 60_000);

    const rejectedEvents = events.json('/event').filter((e) => e.code === 'rollout_rejected');
    assert.equal(rejectedEvents.length, 3, JSON.stringify(rejectedEvents));
    assert.equal(rejectedEvents.filter((e) => /oversized/.test(e.message)).length, 2);
    assert.equal(rejectedEvents.filter((e) => /malformed/.test(e.message) && e.message.includes(oldRun)).length, 1, 'the undecodable chunk is named by its CRC and found');
    const quarantined = readdirSync(join(spoolDir, 'quarantine'));
    assert.equal(quarantined.filter((f) => f.includes('_rejected_')).length, 3, quarantined.join(', '));
    assert.equal(readdirSync(spoolDir).filter((f) => f.endsWith('.seg') || f.endsWith('.chunk')).length, 0, 'nothing is left to resend');
    assert.equal(service.publisher.stats.rejected, 3);
    assert.equal(service.recorder.recording, true, 'recording goes on');
    const stored = await updater.store.listEpisodes();
    assert.equal(stored.length, 2, 'the final chunks that fit were stored');
    assert.ok(stored.every((e) => e.steps === 5 && e.outcome === 'success'));

    // Acks that are not acks: counted, and shown in the rollout stats the telemetry carries.
    const forger = await connectClient(broker.url, 'updater', 'updater-pass');
    forger.publish(topics.rolloutAck(ROBOT), 'not json', { qos: 1 });
    forger.publish(topics.rolloutAck(ROBOT), JSON.stringify({ v: 1, robot: ROBOT, episode: null, chunk: null, status: 'stored' }), { qos: 1 });
    await waitFor('malformed acks counted', () => service.stats().publisher.malformedAcks === 2);
    await forger.endAsync();
  } finally {
    await service.close('test end', 0);
    await events.close();
    await updater.close();
    await broker.close();
  }
});

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decode, encode } from '@msgpack/msgpack';
import { topics } from '../src/contracts/topics.js';
import { silentLogger } from '../src/log.js';
import { updaterCommand } from '../src/cli/cmd-updater.js';
import { loadUpdaterConfig, updaterPassword } from '../src/updater/config.js';
import { Ingest } from '../src/updater/ingest.js';
import { RolloutStore, writeEpisodeNpy } from '../src/updater/store.js';
import { readNpy } from '../src/util/npy.js';
import { crc32c } from '../src/transports/serial/crc32c.js';
import { tempDir } from './helpers/fixtures.js';
import { requirePython } from './helpers/required-tools.js';
import { ROLLOUT_TEST_RUN, rolloutTestChunk } from './helpers/rollout-chunks.js';

const RUN = ROLLOUT_TEST_RUN;

/** Chunk `chunk` of episode `index`: steps [first, first + n); chunk 1 says 3 steps before it were not recorded. */
function chunkOf(index: number, chunk: number, first: number, n: number, final: false | 'success' | 'aborted' = false, robot = 'arm-1'): Uint8Array {
  return rolloutTestChunk(index, chunk, first, n, final, { robot, skippedSteps: chunk === 1 ? 3 : 0 });
}

const ROLLOUT = topics.rollout('arm-1');

test('ingest: a chunk is stored once, acked "stored", and acked "duplicate" when resent', async () => {
  const store = new RolloutStore(':memory:');
  const ingest = new Ingest(store, { maxChunkBytes: 1 << 20, logger: silentLogger });
  const c = chunkOf(0, 0, 0, 10);
  const a = (await ingest.handle(ROLLOUT, c));
  assert.equal(a.outcome, 'stored');
  assert.deepEqual(a.ack, { v: 1, robot: 'arm-1', episode: `${RUN}:0`, chunk: 0, status: 'stored' });
  assert.equal(a.ackTopic, topics.rolloutAck('arm-1'));
  const b = (await ingest.handle(ROLLOUT, c));
  assert.equal(b.outcome, 'duplicate');
  assert.equal(b.ack?.status, 'duplicate');
  assert.equal(store.totals().chunks, 1);
  assert.equal(store.totals().steps, 10);
  assert.deepEqual(ingest.counts, { stored: 1, duplicate: 1, rejected: 0 });
  assert.equal((await ingest.handle(topics.telemetry('arm-1'), c)).outcome, 'ignored');
  store.close();
});

test('ingest: oversized, malformed, wrong-version and forged chunks are rejected and counted; good ones still go in', async () => {
  const store = new RolloutStore(':memory:');
  const ingest = new Ingest(store, { maxChunkBytes: 4096, logger: silentLogger });
  const big = chunkOf(0, 0, 0, 1000);
  assert.ok(big.byteLength > 4096);
  // Never decoded, but answered: the robot must stop resending a chunk the updater will never take.
  const bigAck = (await ingest.handle(ROLLOUT, big)).ack;
  assert.deepEqual([bigAck?.status, bigAck?.episode, bigAck?.chunk], ['rejected', `${RUN}:0`, 0], 'an oversized chunk is named from its first bytes, not decoded');
  assert.match(bigAck?.reason ?? '', /^oversized:/);
  const garbage = new Uint8Array([0xc1, 2, 3]);
  const garbageAck = (await ingest.handle(ROLLOUT, garbage)).ack;
  assert.deepEqual([garbageAck?.status, garbageAck?.episode, garbageAck?.crc32c], ['rejected', null, crc32c(garbage)], 'bytes with no identity are named by their CRC-32C');
  const raw = decode(chunkOf(0, 1, 10, 5)) as Record<string, unknown>;
  const v9 = (await ingest.handle(ROLLOUT, encode({ ...raw, v: 9 })));
  assert.equal(v9.ack?.status, 'rejected');
  assert.match(v9.ack?.reason ?? '', /^version:/);
  const forged = (await ingest.handle(ROLLOUT, chunkOf(0, 2, 15, 5, false, 'arm-2')));
  assert.equal(forged.outcome, 'rejected');
  assert.match(forged.ack?.reason ?? '', /^robot_mismatch/);
  assert.equal(forged.ack?.robot, 'arm-1', 'the ack goes to the robot that sent it');
  assert.equal((await ingest.handle(ROLLOUT, chunkOf(0, 0, 0, 5))).outcome, 'stored');
  assert.deepEqual(ingest.rejectedByCode, { oversized: 1, malformed: 1, version: 1, robot_mismatch: 1 });
  assert.equal(ingest.counts.rejected, 4);
  assert.equal(store.totals().chunks, 1);
  store.close();
});

test('store: an episode is complete once its final chunk and every earlier chunk are in, in any order', async () => {
  const store = new RolloutStore(':memory:');
  const ingest = new Ingest(store, { maxChunkBytes: 1 << 20, logger: silentLogger });
  await ingest.handle(ROLLOUT, chunkOf(1, 2, 20, 4, 'success'));
  assert.equal(store.episode('arm-1', `${RUN}:1`)?.complete, false);
  await ingest.handle(ROLLOUT, chunkOf(1, 0, 0, 10));
  assert.equal(store.episode('arm-1', `${RUN}:1`)?.complete, false);
  await ingest.handle(ROLLOUT, chunkOf(1, 1, 10, 10));
  const ep = store.episode('arm-1', `${RUN}:1`);
  assert.deepEqual(
    { complete: ep?.complete, steps: ep?.steps, chunks: ep?.chunks, final: ep?.final_chunk, outcome: ep?.outcome, skipped: ep?.skipped_steps },
    { complete: true, steps: 24, chunks: 3, final: 2, outcome: 'success', skipped: 3 },
  );
  assert.equal(ingest.episodesComplete, 1);
  assert.deepEqual(store.listEpisodes({ complete: true }).map((e) => e.episode), [`${RUN}:1`]);
  store.close();
});

test('store: export concatenates an episode\'s columns in step order and writes .npy files NumPy reads', async () => {
  const dir = tempDir();
  const store = new RolloutStore(join(dir, 'store.sqlite'));
  const ingest = new Ingest(store, { maxChunkBytes: 1 << 20, logger: silentLogger });
  await ingest.handle(ROLLOUT, chunkOf(7, 1, 10, 6, 'aborted'));
  await ingest.handle(ROLLOUT, chunkOf(7, 0, 0, 10));
  assert.throws(() => store.exportEpisode('arm-1', `${RUN}:8`), { code: 'STRIATUM_ERR_IO' } as never);
  const ex = store.exportEpisode('arm-1', `${RUN}:7`);
  assert.equal(ex.steps, 16);
  assert.deepEqual([...ex.columns.step], Array.from({ length: 16 }, (_, i) => i));
  for (let i = 0; i < 16; i++) assert.equal(ex.columns.observation[i * 3 + 2], 7 * 10_000 + i * 8 + 2);
  assert.equal(ex.outcome, 'aborted');
  const files = writeEpisodeNpy(ex, join(dir, 'ep'));
  assert.ok(files.includes('reward_total.npy'));
  const obs = readNpy(join(dir, 'ep', 'observations.npy'));
  assert.deepEqual(obs.shape, [16, 3]);
  const meta = JSON.parse(readFileSync(join(dir, 'ep', 'meta.json'), 'utf8'));
  assert.equal(meta.steps, 16);
  const python = requirePython(['numpy']);
  const py = execFileSync(python, ['-c', 'import sys, numpy as np; a = np.load(sys.argv[1]); print(a.shape, a.dtype, a[15, 2])', join(dir, 'ep', 'observations.npy')]).toString().trim();
  assert.equal(py, `(16, 3) float32 ${7 * 10_000 + 15 * 8 + 2}.0`);
  store.close();
});

test('store: two stores merge idempotently, and the episode table is rebuilt from the chunks', async () => {
  const dir = tempDir();
  const a = new RolloutStore(join(dir, 'a.sqlite'));
  const b = new RolloutStore(join(dir, 'b.sqlite'));
  const ia = new Ingest(a, { maxChunkBytes: 1 << 20, logger: silentLogger });
  const ib = new Ingest(b, { maxChunkBytes: 1 << 20, logger: silentLogger });
  await ia.handle(ROLLOUT, chunkOf(3, 0, 0, 10));
  await ib.handle(ROLLOUT, chunkOf(3, 0, 0, 10)); // the same chunk reached both (resent after a lost ack)
  await ib.handle(ROLLOUT, chunkOf(3, 1, 10, 5, 'success'));
  b.close();
  assert.deepEqual(a.mergeFrom(join(dir, 'b.sqlite')), { chunks: 1, episodes: 1 });
  assert.deepEqual(a.mergeFrom(join(dir, 'b.sqlite')), { chunks: 0, episodes: 1 });
  const ep = a.episode('arm-1', `${RUN}:3`);
  assert.equal(ep?.complete, true);
  assert.equal(ep?.steps, 15);
  a.close();
});

test('updater config: YAML file, flags on top, paths against the file, readable errors', async () => {
  const dir = tempDir();
  const file = join(dir, 'updater.yaml');
  writeFileSync(file, 'broker:\n  url: mqtt://10.0.0.5:1883\n  password_env: UPD_PASS\nstore:\n  path: data/rollouts.sqlite\nrobots: [arm-1, arm-2]\n');
  const cfg = loadUpdaterConfig({ config: file, shareGroup: 'lab' });
  assert.equal(cfg.broker.url, 'mqtt://10.0.0.5:1883');
  assert.equal(cfg.broker.username, 'updater');
  assert.equal(cfg.store.path, join(dir, 'data/rollouts.sqlite'));
  assert.equal(cfg.share_group, 'lab');
  assert.deepEqual(cfg.robots, ['arm-1', 'arm-2']);
  assert.equal(loadUpdaterConfig({ config: file, robots: 'arm-9', broker: 'mqtt://127.0.0.1:1' }).robots?.[0], 'arm-9');
  assert.throws(() => updaterPassword(cfg), { code: 'STRIATUM_ERR_CONFIG' } as never);
  assert.throws(() => loadUpdaterConfig({}), (e: unknown) => (e as { code: string; details: string[] }).code === 'STRIATUM_ERR_CONFIG' && (e as { details: string[] }).details.some((d) => d.startsWith('store')));
  assert.throws(() => loadUpdaterConfig({ store: 'x.sqlite', shareGroup: 'bad/group' }), { code: 'STRIATUM_ERR_CONFIG' } as never);
});

test('striatum updater episodes | export | merge work on a store file', async () => {
  const dir = tempDir();
  const path = join(dir, 's.sqlite');
  const store = new RolloutStore(path);
  const ingest = new Ingest(store, { maxChunkBytes: 1 << 20, logger: silentLogger });
  await ingest.handle(ROLLOUT, chunkOf(2, 0, 0, 8, 'success'));
  await ingest.handle(ROLLOUT, chunkOf(5, 0, 0, 8));
  store.close();
  const out: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((s: string) => { out.push(String(s)); return true; }) as typeof process.stdout.write;
  try {
    assert.equal(await updaterCommand.run(['episodes', '--store', path, '--complete'], silentLogger), 0);
    assert.equal(await updaterCommand.run(['export', '--store', path, '--robot', 'arm-1', '--episode', `${RUN}:2`, '--out', join(dir, 'ep')], silentLogger), 0);
  } finally {
    process.stdout.write = write;
  }
  const listed = out[0].trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(listed.map((e) => [e.episode, e.complete, e.steps]), [[`${RUN}:2`, true, 8]]);
  assert.equal(JSON.parse(out[1]).steps, 8);
  assert.deepEqual(readNpy(join(dir, 'ep', 'step.npy')).shape, [8]);
  await assert.rejects(updaterCommand.run(['export', '--store', path, '--robot', 'arm-1', '--episode', `${RUN}:5`, '--out', join(dir, 'x')], silentLogger), { code: 'STRIATUM_ERR_IO' } as never);
  await assert.rejects(updaterCommand.run(['frobnicate'], silentLogger), { code: 'STRIATUM_ERR_USAGE' } as never);
});

test('ingest: a chunk with a readable head but a damaged body is rejected by name, so the robot stops resending it', async () => {
  const store = new RolloutStore(':memory:');
  const ingest = new Ingest(store, { maxChunkBytes: 1 << 20, logger: silentLogger });
  const good = chunkOf(3, 2, 40, 5);
  const damaged = good.slice(0, good.byteLength - 7); // cut short: not MessagePack as a whole
  const r = (await ingest.handle(ROLLOUT, damaged));
  assert.equal(r.outcome, 'rejected');
  assert.deepEqual([r.ack?.episode, r.ack?.chunk, r.ack?.status], [`${RUN}:3`, 2, 'rejected']);
  assert.match(r.ack?.reason ?? '', /^malformed:/);
  assert.equal(r.ackTopic, topics.rolloutAck('arm-1'));
  store.close();
});

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { mcapCommand } from '../src/cli/cmd-mcap.js';
import { updaterCommand } from '../src/cli/cmd-updater.js';
import { silentLogger } from '../src/log.js';
import { exportMcap } from '../src/dataset/mcap-export.js';
import { RolloutStore } from '../src/updater/store.js';
import { DATASET_OBS, fillCameraStore, fillDatasetStore } from './helpers/dataset-store.js';
import { tempDir } from './helpers/fixtures.js';
import { messagesInWholeChunks, openIndexed, readFloat64MultiArray, readJointState } from './helpers/mcap-read.js';

const ROS_TOPICS = ['/joint_states', '/striatum/observation', '/striatum/command', '/striatum/policy_action'];

test('mcap export: an indexed, chunked ros2 file whose schemas, channels, counts and decoded values match the store', async () => {
  const dir = tempDir('striatum-mcap-');
  const store = join(dir, 'store.db');
  const episodes = await fillDatasetStore(store);
  const out = join(dir, 'episodes.mcap');
  assert.equal(await updaterCommand.run(['export', '--format', 'mcap', '--store', store, '--out', out], silentLogger), 0);
  const reader = await openIndexed(out);
  assert.equal(reader.header.profile, 'ros2');
  assert.ok(reader.chunkIndexes.length >= 1, 'chunked and indexed');
  const schemas = new Map([...reader.schemasById.values()].map((s) => [s.name, s.encoding]));
  assert.deepEqual(Object.fromEntries(schemas), {
    'sensor_msgs/msg/JointState': 'ros2msg', 'std_msgs/msg/Float64MultiArray': 'ros2msg',
    'striatum.Step': 'jsonschema', 'striatum.Reward': 'jsonschema', 'striatum.Episode': 'jsonschema',
  });
  assert.match(new TextDecoder().decode([...reader.schemasById.values()].find((s) => s.name === 'sensor_msgs/msg/JointState')?.data), /MSG: std_msgs\/Header/);
  const channels = new Map([...reader.channelsById.values()].map((c) => [c.topic, c]));
  for (const t of ROS_TOPICS) assert.equal(channels.get(t)?.messageEncoding, 'cdr', t);
  for (const t of ['/striatum/step', '/striatum/reward', '/striatum/episode']) assert.equal(channels.get(t)?.messageEncoding, 'json', t);
  const steps = episodes.reduce((s, e) => s + e.columns.step.length, 0);
  const counts = reader.statistics?.channelMessageCounts as Map<number, bigint>;
  for (const t of [...ROS_TOPICS, '/striatum/step', '/striatum/reward']) assert.equal(counts.get(channels.get(t)?.id as number), BigInt(steps), t);
  assert.equal(counts.get(channels.get('/striatum/episode')?.id as number), BigInt(episodes.length * 2), 'a start and an end per episode');

  // Decoded values, in order: float32 values carried exactly as float64.
  const command: number[] = [];
  const joints: number[] = [];
  const stepRecords: { episode: string; step: number; flags: number }[] = [];
  const rewards: Record<string, number | null>[] = [];
  for await (const m of reader.readMessages()) {
    const topic = reader.channelsById.get(m.channelId)?.topic;
    if (topic === '/striatum/command') command.push(...readFloat64MultiArray(m.data).data);
    if (topic === '/joint_states') {
      const js = readJointState(m.data);
      assert.deepEqual(js.name, ['x', 'y']);
      joints.push(...js.position);
    }
    if (topic === '/striatum/step') stepRecords.push(JSON.parse(new TextDecoder().decode(m.data)));
    if (topic === '/striatum/reward') rewards.push(JSON.parse(new TextDecoder().decode(m.data)));
  }
  assert.deepEqual(command, episodes.flatMap((e) => Array.from(e.columns.command)));
  assert.deepEqual(joints, episodes.flatMap((e) => Array.from({ length: e.columns.step.length * 2 }, (_, j) => e.columns.observation[Math.floor(j / 2) * DATASET_OBS + (j % 2)])));
  assert.deepEqual(stepRecords.map((s) => s.flags), episodes.flatMap((e) => Array.from(e.columns.flags)));
  assert.equal(rewards[3].total, null, 'a step without reward has null components, not NaN');
  assert.equal(rewards[0].total, episodes[0].columns.reward.total[0]);
});

test('mcap export: camera frames as sensor_msgs/Image; --topics keeps only the topics named', async () => {
  const dir = tempDir('striatum-mcap-cam-');
  const store = join(dir, 'store.db');
  await fillCameraStore(store);
  const out = join(dir, 'cam.mcap');
  assert.equal(await updaterCommand.run(['export', '--format', 'mcap', '--store', store, '--out', out, '--topics', '/striatum/camera,/striatum/episode'], silentLogger), 0);
  const reader = await openIndexed(out);
  assert.deepEqual([...reader.channelsById.values()].map((c) => c.topic).sort(), ['/striatum/camera/top/image', '/striatum/episode']);
  const image = [...reader.channelsById.values()].find((c) => c.topic === '/striatum/camera/top/image');
  assert.equal(reader.schemasById.get(image?.schemaId as number)?.name, 'sensor_msgs/msg/Image');
  assert.equal(reader.statistics?.channelMessageCounts.get(image?.id as number), 9n, '5 + 4 frames');
  await assert.rejects(updaterCommand.run(['export', '--format', 'mcap', '--store', store, '--out', out], silentLogger), { code: 'STRIATUM_ERR_OUTPUT_EXISTS' } as never);
  await assert.rejects(updaterCommand.run(['export', '--format', 'mcap', '--store', store, '--out', join(dir, 'x.mcap'), '--topics', '/tf'], silentLogger), { code: 'STRIATUM_ERR_USAGE' } as never);
});

test('mcap recover: a file cut off anywhere gives back every message of every whole chunk before the cut, in a finished file', async () => {
  const dir = tempDir('striatum-mcap-recover-');
  const store = join(dir, 'store.db');
  await fillCameraStore(store);
  const full = join(dir, 'full.mcap');
  // Small chunks: many to cut between.
  const ro = RolloutStore.openExisting(store);
  await exportMcap(ro, full, { chunkBytes: 4096 });
  ro.close();
  const bytes = readFileSync(full);
  const chunks = (await openIndexed(full)).chunkIndexes.length;
  assert.ok(chunks >= 5, `${chunks} chunks`);
  for (const fraction of [0.05, 0.3, 0.55, 0.8, 0.97]) {
    const cut = Math.floor(bytes.length * fraction);
    const damaged = join(dir, `cut-${fraction}.mcap`);
    writeFileSync(damaged, bytes.subarray(0, cut));
    assert.equal(await mcapCommand.run(['recover', damaged], silentLogger), 0);
    const recovered = await openIndexed(join(dir, `cut-${fraction}.recovered.mcap`));
    let n = 0;
    for await (const _ of recovered.readMessages()) n++;
    assert.equal(n, messagesInWholeChunks(bytes, cut), `cut at ${cut} of ${bytes.length} (${chunks} chunks)`);
    if (fraction > 0.2) assert.ok(n > 0, 'messages come back');
  }
  await assert.rejects(mcapCommand.run(['recover', join(dir, 'cut-0.05.mcap')], silentLogger), { code: 'STRIATUM_ERR_OUTPUT_EXISTS' } as never);
});

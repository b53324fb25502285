// The robot's own MCAP recording: `striatum run` with recording.mcap, killed with SIGKILL three times in the
// middle of recording, then stopped cleanly once. Every start writes its own file; every killed file gives back
// every message of its whole chunks through `striatum mcap recover`; the clean stop leaves a finished file.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { mcapCommand } from '../src/cli/cmd-mcap.js';
import { silentLogger } from '../src/log.js';
import { freePort, simConfig, startCli, tempDir, waitFor, writeConfig, writeLinearPolicy } from './helpers/fixtures.js';
import { messagesInWholeChunks, openIndexed, readFloat64MultiArray, readJointState } from './helpers/mcap-read.js';

test('mcap recording: kill -9 three times mid-recording, each file recovers every whole chunk; a clean stop finishes its file', { timeout: 240_000 }, async () => {
  const dir = tempDir('striatum-mcap-rec-');
  const cfg = simConfig(writeLinearPolicy(dir, { gain: 0.2 }), { robotId: 'sim-mcap', port: await freePort() });
  cfg.transport.cameras = [{ name: 'top', width: 32, height: 32, hz: 5 }];
  // 4 KiB chunks: a chunk every few dozen steps, so a kill lands between chunks within seconds.
  cfg.recording = { mcap: { path: join(dir, 'rec', 'robot.mcap'), chunk_size: 4 } };
  const configPath = writeConfig(dir, cfg);
  const recDir = join(dir, 'rec');
  const killed: { file: string; size: number }[] = [];

  for (let run = 0; run < 3; run++) {
    const robot = startCli(['run', '--config', configPath]);
    try {
      const file = (await waitFor('the recording file', () => robot.logs().find((l) => l.msg === 'MCAP recording'), 60_000)).file as string;
      await waitFor('a few chunks on disk', () => statSync(file).size > 30_000, 60_000);
      robot.child.kill('SIGKILL');
      await robot.exited;
      killed.push({ file, size: statSync(file).size });
    } finally {
      robot.child.kill('SIGKILL');
    }
  }
  assert.equal(new Set(killed.map((k) => k.file)).size, 3, 'each start wrote a new file');

  const clean = startCli(['run', '--config', configPath]);
  let cleanFile = '';
  try {
    cleanFile = (await waitFor('the recording file', () => clean.logs().find((l) => l.msg === 'MCAP recording'), 60_000)).file as string;
    await waitFor('some steps', () => statSync(cleanFile).size > 10_000, 60_000);
    clean.child.kill('SIGINT');
    assert.equal(await clean.exited, 0);
  } finally {
    clean.child.kill('SIGKILL');
  }
  for (const k of killed) assert.equal(statSync(k.file).size, k.size, `${k.file} was left as it was`);

  for (const k of killed) {
    const bytes = readFileSync(k.file);
    await assert.rejects(openIndexed(k.file)); // a killed recording has no summary
    assert.equal(await mcapCommand.run(['recover', k.file], silentLogger), 0);
    const recovered = await openIndexed(k.file.replace(/\.mcap$/, '.recovered.mcap'));
    assert.equal(recovered.header.profile, 'ros2');
    const expected = messagesInWholeChunks(bytes, bytes.length);
    assert.ok(expected > 50, `${expected} messages in whole chunks`);
    let n = 0;
    const steps: number[] = [];
    for await (const m of recovered.readMessages()) {
      n++;
      const topic = recovered.channelsById.get(m.channelId)?.topic;
      if (topic === '/joint_states') assert.deepEqual(readJointState(m.data).name, ['x', 'y']);
      if (topic === '/striatum/command') assert.equal(readFloat64MultiArray(m.data).data.length, 2);
      if (topic === '/striatum/step') steps.push(JSON.parse(new TextDecoder().decode(m.data)).step);
    }
    assert.equal(n, expected, `${k.file}: every message of every whole chunk`);
    // Steps come in order, none skipped: each episode counts 0, 1, 2, …
    steps.forEach((s, i) => { if (i > 0 && s !== 0) assert.equal(s, steps[i - 1] + 1, `step ${i}`); });
  }

  const finished = await openIndexed(cleanFile);
  const counts = finished.statistics?.channelMessageCounts as Map<number, bigint>;
  const byTopic = new Map([...finished.channelsById.values()].map((c) => [c.topic, counts.get(c.id) ?? 0n]));
  assert.ok((byTopic.get('/striatum/step') ?? 0n) > 0n);
  assert.equal(byTopic.get('/joint_states'), byTopic.get('/striatum/step'), 'a clean stop writes every step it took');
  assert.ok((byTopic.get('/striatum/camera/top/image') ?? 0n) > 0n, 'camera frames as sensor_msgs/Image');
  assert.deepEqual(readdirSync(recDir).filter((f) => f.endsWith('.partial')), []);
});

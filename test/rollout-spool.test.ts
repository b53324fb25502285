import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import {
  FLAG_DONE, FLAG_NO_REWARD, REWARD_COMPONENTS, ROLLOUT_VERSION, decodeRolloutChunk, encodeRolloutChunk,
  type RolloutHeaderInput, type RolloutLayout,
} from '../src/contracts/rollout.js';
import type { StepView } from '../src/control/step.js';
import { silentLogger } from '../src/log.js';
import { RewardStep } from '../src/reward/reward-step.js';
import { Recorder, type RecorderAlarm } from '../src/rollout/recorder.js';
import { QUARANTINE_DIR, SpoolDir, emptyColumns, fsyncPath } from '../src/rollout/spool-dir.js';
import { SPOOL_MAGIC, parseSpoolFileName, spoolFileName, unframeSpoolFile } from '../src/rollout/spool-file.js';
import { Spool } from '../src/rollout/spool.js';
import { crc32c } from '../src/transports/serial/crc32c.js';
import { tempDir, waitFor } from './helpers/fixtures.js';

const RUN = '7d1e2f00-aaaa-4bbb-8ccc-000000000001';
const LAYOUT: RolloutLayout = { observation: [{ name: 'o', size: 4 }], joints: ['x', 'y'], reward: [...REWARD_COMPONENTS], camera: null };

function header(episode: string, chunk: number, final = false): RolloutHeaderInput {
  return {
    v: ROLLOUT_VERSION, robot: 'arm-1', episode, chunk, policy_version: null, task: 'push', instruction: 'go',
    stamp: new Date(0).toISOString(), stamp_origin_unix_ms: null, layout: LAYOUT, n: 0, skipped_steps: 0, final,
    outcome: final ? 'success' : null, end_reason: null,
  };
}
const chunkBytes = (h: RolloutHeaderInput) => encodeRolloutChunk(h, emptyColumns(false), 'none');

const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return b; };

test('spool file: the documented 16-byte head, written by hand, reads back; a flipped bit does not', () => {
  const payload = Buffer.from('chunk bytes');
  const file = Buffer.concat([Buffer.from('STRK', 'latin1'), u32(1), u32(payload.length), u32(crc32c(payload)), payload]);
  assert.equal(file.readUInt32LE(0), SPOOL_MAGIC);
  const r = unframeSpoolFile(file);
  assert.ok(r.ok);
  assert.equal(Buffer.from(r.ok ? r.payload : []).toString(), 'chunk bytes');
  file[file.length - 1] ^= 1;
  assert.equal(unframeSpoolFile(file).ok, false);
  assert.equal(unframeSpoolFile(file.subarray(0, 20)).ok, false);
  const name = spoolFileName({ seq: 42, episode: `${RUN}:7`, chunk: 3, final: true });
  assert.deepEqual(parseSpoolFileName(name), { seq: 42, episode: `${RUN}:7`, chunk: 3, final: true });
  assert.equal(parseSpoolFileName('000000000042_x_y_z.chunk'), null);
});

test('spool dir: write, list on reopen, read, delete', () => {
  const dir = tempDir();
  const s = new SpoolDir(dir, 'none');
  assert.equal(s.open().entries.length, 0);
  const h0 = header(`${RUN}:0`, 0);
  const e0 = s.write(h0, chunkBytes(h0));
  const h1 = header(`${RUN}:0`, 1, true);
  const e1 = s.write(h1, chunkBytes(h1));
  assert.equal(existsSync(join(dir, `open_${RUN}_0.json`)), false, 'the final chunk removes the open marker');
  const again = new SpoolDir(dir, 'none').open();
  assert.deepEqual(again.entries.map((e) => [e.episode, e.chunk, e.final]), [[`${RUN}:0`, 0, false], [`${RUN}:0`, 1, true]]);
  assert.equal(again.usedBytes, e0.bytes + e1.bytes);
  const read = s.read(e0.file);
  assert.ok(read !== null);
  const decoded = decodeRolloutChunk(read, { maxBytes: 1 << 20 });
  assert.ok(decoded.ok && decoded.value.header.chunk === 0);
  assert.equal(s.remove(e0.file), true);
  assert.equal(s.read(e0.file), null);
  assert.equal(new SpoolDir(dir, 'none').open().entries.length, 1);
});

test('spool dir: torn files, partial writes and damaged bytes are quarantined, never listed or read', () => {
  const dir = tempDir();
  const s = new SpoolDir(dir, 'none');
  s.open();
  const ep = `${RUN}:1`;
  const entries = [0, 1, 2].map((i) => { const h = header(ep, i, i === 2); return s.write(h, chunkBytes(h)); });
  truncateSync(join(dir, entries[0].file), entries[0].bytes - 5); // crash mid-write on a filesystem without ordering
  writeFileSync(join(dir, `${spoolFileName({ seq: 99, episode: ep, chunk: 9, final: false })}.tmp`), 'half a chu'); // crash before rename
  const damaged = readFileSync(join(dir, entries[1].file));
  damaged[damaged.length - 3] ^= 0xff;
  writeFileSync(join(dir, entries[1].file), damaged); // same size, bad CRC
  writeFileSync(join(dir, 'notes.txt'), 'not a chunk');

  const s2 = new SpoolDir(dir, 'none');
  const scan = s2.open();
  assert.deepEqual(scan.quarantined.map((q) => q.reason).sort(), ['partial-write', 'torn', 'unknown-name']);
  assert.deepEqual(scan.entries.map((e) => e.chunk), [1, 2], 'the damaged one still looks whole from its head');
  assert.equal(s2.read(entries[1].file), null, 'but its CRC fails on read');
  assert.equal(existsSync(join(dir, entries[1].file)), false);
  const q = readdirSync(join(dir, QUARANTINE_DIR));
  assert.equal(q.length, 4);
  assert.ok(q.some((f) => f.includes('corrupt')));
  assert.deepEqual(new SpoolDir(dir, 'none').open().entries.map((e) => e.chunk), [2]);
});

test('spool dir: an episode left open by a killed process is closed with a zero-step "aborted" final chunk after every chunk on disk', () => {
  const dir = tempDir();
  const s = new SpoolDir(dir, 'none');
  s.open();
  const ep = `${RUN}:4`;
  for (const i of [0, 1]) { const h = header(ep, i); s.write(h, chunkBytes(h)); }
  // The marker fell behind (a crash between the two renames): it says next = 1 while chunk 1 is on disk.
  const marker = JSON.parse(readFileSync(join(dir, `open_${RUN}_4.json`), 'utf8'));
  assert.equal(marker.next_chunk, 2);
  writeFileSync(join(dir, `open_${RUN}_4.json`), JSON.stringify({ ...marker, next_chunk: 1 }));

  const scan = new SpoolDir(dir, 'none').open();
  assert.equal(scan.tombstones, 1);
  const last = scan.entries[scan.entries.length - 1];
  assert.deepEqual([last.chunk, last.final], [2, true]);
  const r = decodeRolloutChunk(new SpoolDir(dir, 'none').read(last.file) as Uint8Array, { maxBytes: 1 << 20 });
  assert.ok(r.ok);
  assert.equal(r.value.header.outcome, 'aborted');
  assert.equal(r.value.header.n, 0);
  assert.equal(existsSync(join(dir, `open_${RUN}_4.json`)), false);
  assert.equal(new SpoolDir(dir, 'none').open().tombstones, 0, 'recovery runs once');
});

test('spool dir: a batch stages several chunks of one episode, fsyncs them, renames in order: every chunk listed, the marker right', () => {
  const dir = tempDir();
  const s = new SpoolDir(dir, 'none');
  s.open();
  const ep = `${RUN}:5`;
  const staged = [0, 1, 2].map((i) => { const h = header(ep, i); return s.stage(h, chunkBytes(h)); });
  for (const st of staged) fsyncPath(st.tmpPath);
  const entries = staged.map((st) => s.commit(st));
  s.syncDir();
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temporary file is left');
  assert.equal(JSON.parse(readFileSync(join(dir, `open_${RUN}_5.json`), 'utf8')).next_chunk, 3, 'the marker is the last chunk\'s');
  const again = new SpoolDir(dir, 'none').open();
  assert.deepEqual(again.entries.filter((e) => !e.final).map((e) => e.chunk), [0, 1, 2]);
  assert.deepEqual(entries.map((e) => e.chunk), [0, 1, 2]);
  // An abandoned chunk leaves nothing behind.
  const h3 = header(ep, 3);
  s.abandon(s.stage(h3, chunkBytes(h3)));
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
});

// --- Recorder over the real spool worker ---------------------------------------------------------------------

class SyntheticSteps {
  readonly view = { episode: 0, step: 0, stampMs: 0, observation: new Float64Array(4), action: new Float64Array(2), command: new Float64Array(2), progress: 0, done: false, truncated: false };
  next(episode: number, step: number, last = false): StepView {
    const v = this.view;
    v.episode = episode;
    v.step = step;
    v.stampMs = step * 20;
    for (let k = 0; k < 4; k++) v.observation[k] = episode * 10_000 + step * 8 + k;
    v.action[0] = step; v.action[1] = -step;
    v.command[0] = step / 2; v.command[1] = -step / 2;
    v.progress = step / 100;
    v.done = last;
    return v;
  }
}

// A test that fails before it closes its spool must not leave the spool's worker thread keeping the file's
// process alive (the test runner would wait for it forever): every spool opened here is closed after its test.
const openSpools: Spool[] = [];
afterEach(async () => {
  for (const s of openSpools.splice(0)) await s.close(1000);
});

async function openRecorder(dir: string, over: { chunkSteps?: number; chunkMs?: number; maxBytes?: number; buffers?: number; capacityBytes?: number } = {}) {
  const spool = await Spool.open({ dir, maxBytes: over.maxBytes ?? 64 << 20, compression: 'gzip', logger: silentLogger, capacityBytes: over.capacityBytes });
  openSpools.push(spool);
  const recorder = new Recorder({
    robotId: 'arm-1', task: 'push', observationFields: [{ name: 'o', size: 4 }], joints: ['x', 'y'], chunkSteps: over.chunkSteps ?? 10,
    chunkMs: over.chunkMs ?? 1e9, spool, camera: null, policyVersion: 'v1', stampOriginUnixMs: null, maxChunkBytes: 8 << 20,
    buffers: over.buffers ?? 4, logger: silentLogger, runId: RUN,
  });
  const alarms: RecorderAlarm[] = [];
  recorder.onAlarm = (a) => alarms.push(a);
  return { spool, recorder, alarms };
}

function decodeAll(dir: string) {
  const s = new SpoolDir(dir, 'none');
  return s.open().entries.map((e) => {
    const r = decodeRolloutChunk(s.read(e.file) as Uint8Array, { maxBytes: 1 << 24 });
    if (!r.ok) throw new Error(r.error);
    return r.value;
  });
}

test('recorder: steps are cut into chunks by count, the episode end closes with the outcome, every value lands', async () => {
  const dir = tempDir();
  const { spool, recorder } = await openRecorder(dir);
  const steps = new SyntheticSteps();
  const reward = new RewardStep();
  recorder.onEpisodeStart({ episode: 0, instruction: 'push it' });
  for (let i = 0; i < 25; i++) {
    reward.total = i; reward.rawProgress = i / 25; reward.noReward = i % 5 === 0;
    recorder.onStep(steps.next(0, i, i === 24), i === 3 ? null : reward);
  }
  recorder.onEpisodeEnd({ episode: 0, instruction: 'push it', outcome: 'success' });
  await spool.flushed();
  await spool.close();
  const chunks = decodeAll(dir);
  assert.deepEqual(chunks.map((c) => [c.header.chunk, c.header.n, c.header.final]), [[0, 10, false], [1, 10, false], [2, 5, true]]);
  assert.equal(chunks[2].header.outcome, 'success');
  assert.equal(chunks[0].header.instruction, 'push it');
  assert.equal(chunks[0].header.episode, `${RUN}:0`);
  const all = chunks.flatMap((c) => [...c.columns.step]);
  assert.deepEqual(all, Array.from({ length: 25 }, (_, i) => i));
  for (const c of chunks) {
    for (let r = 0; r < c.header.n; r++) {
      const i = c.columns.step[r];
      assert.deepEqual([...c.columns.observation.subarray(r * 4, r * 4 + 4)], [0, 1, 2, 3].map((k) => i * 8 + k));
      assert.deepEqual([...c.columns.action.subarray(r * 2, r * 2 + 2)], [i, -i]);
      assert.equal(c.columns.command[r * 2], i / 2);
      if (i === 3) assert.ok(Number.isNaN(c.columns.reward.total[r]) && (c.columns.flags[r] & FLAG_NO_REWARD) !== 0);
      else assert.equal(c.columns.reward.total[r], i);
      assert.equal((c.columns.flags[r] & FLAG_DONE) !== 0, i === 24);
    }
  }
});

test('recorder: chunks are cut by time too, and a policy change starts a new chunk', async () => {
  const dir = tempDir();
  const { spool, recorder } = await openRecorder(dir, { chunkSteps: 100, chunkMs: 100 });
  const steps = new SyntheticSteps();
  for (let i = 0; i < 12; i++) recorder.onStep(steps.next(0, i), null); // 20 ms apart: 100 ms spans 6 steps
  recorder.setPolicyVersion('v2');
  recorder.onStep(steps.next(0, 12), null);
  recorder.close('test over');
  await spool.flushed();
  await spool.close();
  const chunks = decodeAll(dir);
  assert.deepEqual(chunks.map((c) => c.header.n), [6, 6, 1]);
  assert.deepEqual(chunks.map((c) => c.header.policy_version), ['v1', 'v1', 'v2']);
  assert.equal(chunks[2].header.final, true);
  assert.equal(chunks[2].header.outcome, 'aborted');
});

test('recorder: when the spool bound is reached, recording pauses with an alarm, counts what it misses, and resumes', async () => {
  const dir = tempDir();
  const { spool, recorder, alarms } = await openRecorder(dir, { chunkSteps: 10, maxBytes: 80_000 });
  const steps = new SyntheticSteps();
  let fed = 0;
  for (let batch = 0; batch < 200 && recorder.recording; batch++) {
    for (let i = 0; i < 10; i++) recorder.onStep(steps.next(0, fed++), null);
    await spool.flushed();
    await tick();
  }
  assert.equal(recorder.recording, false, 'the bound was reached');
  assert.equal(alarms[0].state, 'paused');
  assert.equal(alarms[0].reason, 'spool_full');
  for (let i = 0; i < 37; i++) recorder.onStep(steps.next(0, fed++), null);
  const missedBefore = recorder.stats.unrecordedSteps;
  assert.ok(missedBefore >= 37);
  assert.ok(spool.usedBytes <= spool.options.maxBytes, 'the bound holds');

  // The updater acknowledges everything: the spool drains and recording resumes.
  for (const e of new SpoolDir(dir, 'none').open().entries) spool.remove(e);
  assert.equal(recorder.recording, true);
  const resumed = alarms.find((a) => a.state === 'resumed');
  assert.ok(resumed !== undefined);
  assert.equal(resumed.pausedSteps, missedBefore);
  for (let i = 0; i < 5; i++) recorder.onStep(steps.next(0, fed++), null);
  recorder.onEpisodeEnd({ episode: 0, instruction: '', outcome: 'timeout' });
  await spool.flushed();
  await spool.close();
  const after = decodeAll(dir);
  assert.equal(after.length, 1);
  assert.equal(after[0].header.skipped_steps, missedBefore, 'the gap travels with the next chunk');
  assert.equal(after[0].columns.step[0], fed - 5, 'and the step column shows where it is');
  assert.equal(recorder.stats.stepsRecorded + recorder.stats.unrecordedSteps, fed, 'every step is either recorded or counted');
});

test('recorder: when every buffer set is still on its way to disk, steps are counted, not lost silently', async () => {
  const dir = tempDir();
  const { spool, recorder, alarms } = await openRecorder(dir, { chunkSteps: 10, buffers: 2 });
  const steps = new SyntheticSteps();
  // No await: the worker cannot hand buffers back, so after two cuts there is nowhere to write.
  for (let i = 0; i < 35; i++) recorder.onStep(steps.next(0, i), null);
  assert.equal(recorder.stats.unrecordedSteps, 15);
  assert.equal(alarms[0]?.reason, 'spool_stalled');
  await waitFor('buffers to come back', () => recorder.recording);
  recorder.onStep(steps.next(0, 35), null);
  recorder.onEpisodeEnd({ episode: 0, instruction: '', outcome: 'failure' });
  await spool.flushed();
  await spool.close();
  const chunks = decodeAll(dir);
  assert.deepEqual(chunks.map((c) => [c.header.n, c.header.skipped_steps]), [[10, 0], [10, 0], [1, 15]]);
});

test('spool: on a full disk, deletes of acknowledged chunks still run, the failed write then succeeds and recording resumes', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  // The configured bound (64 MB) is far above what the disk holds (about 3 chunks): the disk fills first.
  const { spool, recorder, alarms } = await openRecorder(dir, { chunkSteps: 10, buffers: 3, capacityBytes: 4000 });
  const written: Parameters<NonNullable<typeof spool.onWritten>>[0][] = [];
  spool.onWritten = (entry) => written.push(entry);
  const steps = new SyntheticSteps();
  let fed = 0;
  // Feed until the disk is full. A slow worker can also pause recording for a moment (spool_stalled) before any
  // write has failed, so feeding goes on until the pause names the disk.
  for (let batch = 0; batch < 400 && recorder.pauseReason !== 'spool_error'; batch++) {
    for (let i = 0; i < 10; i++) recorder.onStep(steps.next(0, fed++), null);
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.equal(recorder.recording, false, 'the disk filled up and every buffer set is waiting on a failed write');
  assert.equal(alarms[0]?.state, 'paused');
  await waitFor('the pause to name the failing disk', () => recorder.pauseReason === 'spool_error');
  assert.ok(spool.stats.writeErrors > 0);
  const before = written.length;
  assert.ok(before >= 1, 'some chunks were written before the disk filled');

  // The updater acknowledges what was written: the deletes run although a write is failing, space comes back.
  for (const e of written.splice(0)) spool.remove(e);
  await waitFor('recording to resume once the disk has space again', () => recorder.recording, 20_000);
  assert.equal(alarms.at(-1)?.state, 'resumed');
  for (let i = 0; i < 5; i++) recorder.onStep(steps.next(0, fed++), null);
  recorder.onEpisodeEnd({ episode: 0, instruction: '', outcome: 'timeout' });
  await spool.flushed();
  await spool.close();
  const left = decodeAll(dir);
  assert.equal(left.at(-1)?.header.final, true, 'the episode\'s final chunk reached the disk');
  const recordedLeft = left.reduce((n, c) => n + c.header.n, 0);
  assert.equal(recorder.stats.stepsRecorded + recorder.stats.unrecordedSteps, fed, 'every step is either recorded or counted');
  assert.ok(recordedLeft > 0);
});

import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
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
import { QUARANTINE_DIR, SEGMENT_ROLL_RECORDS, SpoolDir, emptyColumns } from '../src/rollout/spool-dir.js';
import {
  SEGMENT_MAGIC, SPOOL_MAGIC, frameSpoolFile, parseSegment, parseSpoolFileName, segmentFileName, spoolFileName, unframeRecord, unframeSpoolFile,
} from '../src/rollout/spool-file.js';
import { Spool } from '../src/rollout/spool.js';
import { crc32c } from '../src/transports/serial/crc32c.js';
import { crc32 } from 'node:zlib';
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

test('segment record: the documented head, written by hand, reads back; a flipped bit does not; a torn tail ends the segment', () => {
  const episode = Buffer.from(`${RUN}:7`);
  const payload = Buffer.from('chunk bytes');
  const u16 = (v: number) => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return b; };
  const head20 = Buffer.concat([Buffer.from('STRS', 'latin1'), u16(2), u16(episode.length), u32(payload.length), u32(3), u32(1)]);
  const record = Buffer.concat([head20, u32(crc32(payload, crc32(episode, crc32(head20)))), episode, payload]);
  assert.equal(record.readUInt32LE(0), SEGMENT_MAGIC);
  const r = unframeRecord(record);
  assert.ok(r.ok);
  assert.deepEqual(r.ok ? [r.meta.episode, r.meta.chunk, r.meta.final, Buffer.from(r.payload).toString()] : [], [`${RUN}:7`, 3, true, 'chunk bytes']);
  // Two whole records, a damaged one between them, and half of a fourth.
  const damaged = Buffer.from(record);
  damaged[damaged.length - 2] ^= 1;
  assert.equal(unframeRecord(damaged).ok, false);
  const seg = Buffer.concat([record, damaged, record, record.subarray(0, 30)]);
  const parsed = parseSegment(seg);
  assert.deepEqual(parsed.records.map((x) => x.offset), [0, 2 * record.length]);
  assert.deepEqual(parsed.damaged.map((x) => x.offset), [record.length]);
  assert.equal(parsed.end, 3 * record.length);
  assert.match(parsed.problem ?? '', /record at byte/);
  assert.equal(segmentFileName(42), '000000000042.seg');
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
  assert.deepEqual(readdirSync(dir).filter((f) => f !== QUARANTINE_DIR), [e0.file], 'both chunks went to one segment');
  const again = new SpoolDir(dir, 'none').open();
  assert.deepEqual(again.entries.map((e) => [e.episode, e.chunk, e.final]), [[`${RUN}:0`, 0, false], [`${RUN}:0`, 1, true]]);
  assert.equal(again.usedBytes, e0.bytes + e1.bytes);
  const read = s.read(e0);
  assert.ok(read !== null);
  const decoded = decodeRolloutChunk(read, { maxBytes: 1 << 20 });
  assert.ok(decoded.ok && decoded.value.header.chunk === 0);
  assert.equal(s.remove(e0), true);
  assert.equal(s.remove(e0), false, 'a chunk is released once');
  assert.equal(existsSync(join(dir, e0.file)), true, 'the segment stays while a chunk in it waits for its ack');
  assert.equal(new SpoolDir(dir, 'none').open().entries.length, 2, 'until then a restart sends both again (the updater acks the first "duplicate")');
  assert.equal(s.remove(e1), true);
  assert.equal(existsSync(join(dir, e0.file)), false, 'the last ack deletes the segment');
  assert.equal(s.read(e1), null);
  assert.equal(new SpoolDir(dir, 'none').open().entries.length, 0);
});

test('spool dir: a batch is one append to one segment; segments roll; a segment goes once every chunk in it is acknowledged', () => {
  const dir = tempDir();
  const s = new SpoolDir(dir, 'none');
  s.open();
  const ep = `${RUN}:5`;
  const batch = [0, 1, 2].map((i) => { const header_ = header(ep, i); return { header: header_, payload: chunkBytes(header_) }; });
  const entries = s.writeBatch(batch);
  assert.deepEqual(entries.map((e) => [e.file, e.chunk]), [0, 1, 2].map((i) => [entries[0].file, i]));
  assert.deepEqual(entries.map((e) => e.offset), [0, entries[0].bytes, entries[0].bytes + entries[1].bytes]);
  assert.equal(statSync(join(dir, entries[0].file)).size, entries.reduce((n, e) => n + e.bytes, 0));
  // More than a segment holds: the next batches go to a second one.
  const more: typeof entries = [];
  for (let i = 3; i < SEGMENT_ROLL_RECORDS + 5; i++) { const h = header(ep, i); more.push(s.write(h, chunkBytes(h))); }
  const files = [...new Set([...entries, ...more].map((e) => e.file))];
  assert.equal(files.length, 2);
  // The first segment's chunks acknowledged (out of order): it is deleted, and the episode's marker now reaches past them.
  const first = [...entries, ...more].filter((e) => e.file === files[0]);
  for (const e of first.reverse()) s.remove(e);
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.seg')), [files[1]]);
  assert.ok(JSON.parse(readFileSync(join(dir, `open_${RUN}_5.json`), 'utf8')).next_chunk >= SEGMENT_ROLL_RECORDS, 'the marker is past every chunk that left the disk');
  // A restart lists what is left, in order, and closes the episode after it.
  const left = new SpoolDir(dir, 'none').open().entries;
  const second = [...entries, ...more].filter((e) => e.file === files[1]).map((e) => e.chunk);
  assert.deepEqual(left.map((e) => e.chunk), [...second, SEGMENT_ROLL_RECORDS + 5]);
  assert.equal(left.at(-1)?.final, true);
});

test('spool dir: a torn tail and a damaged record are quarantined at open; the records around them are kept', () => {
  const dir = tempDir();
  const s = new SpoolDir(dir, 'none');
  s.open();
  const ep = `${RUN}:1`;
  const entries = [0, 1, 2, 3].map((i) => { const h = header(ep, i); return s.write(h, chunkBytes(h)); });
  const path = join(dir, entries[0].file);
  const bytes = readFileSync(path);
  bytes[entries[1].offset as number + entries[1].bytes - 3] ^= 0xff; // chunk 1's payload: same size, bad CRC
  writeFileSync(path, bytes);
  truncateSync(path, statSync(path).size - 5); // chunk 3 torn: a crash mid-append
  writeFileSync(join(dir, 'notes.txt'), 'not a chunk');
  writeFileSync(join(dir, `${spoolFileName({ seq: 99, episode: ep, chunk: 9, final: false })}.tmp`), 'half a chu'); // an earlier version's crash before rename

  const s2 = new SpoolDir(dir, 'none');
  const scan = s2.open();
  assert.deepEqual(scan.quarantined.map((q) => q.reason).sort(), ['corrupt', 'partial-write', 'torn-tail', 'unknown-name']);
  // Chunks 0 and 2 survive; the episode is still open, so it is closed as aborted after chunk 2 (chunk 3 was
  // torn before it was ever on disk whole, so it was never published).
  assert.deepEqual(scan.entries.map((e) => [e.chunk, e.final]), [[0, false], [2, false], [3, true]]);
  assert.equal(statSync(path).size, (entries[3].offset as number), 'the segment is cut where the torn record began');
  assert.equal(readdirSync(join(dir, QUARANTINE_DIR)).length, 4);
  // Damage after the scan is found on read.
  const again = readFileSync(path);
  again[(scan.entries[1].offset as number) + scan.entries[1].bytes - 1] ^= 0xff;
  writeFileSync(path, again);
  assert.equal(s2.read(scan.entries[1]), null, 'its CRC fails on read');
  assert.ok(readdirSync(join(dir, QUARANTINE_DIR)).some((f) => f.includes('corrupt') && f.endsWith(`_${scan.entries[1].offset}`)));
  assert.ok(s2.read(scan.entries[0]) !== null, 'the chunk before it still reads');
});

test('spool dir: chunk files of an earlier version are listed first, read, and deleted on their ack', () => {
  const dir = tempDir();
  const ep = `${RUN}:2`;
  const h0 = header(ep, 0);
  writeFileSync(join(dir, spoolFileName({ seq: 7, episode: ep, chunk: 0, final: false })), frameSpoolFile(chunkBytes(h0)));
  const s = new SpoolDir(dir, 'none');
  const scan = s.open();
  assert.equal(scan.tombstones, 0, 'no marker: nothing to close');
  const h1 = header(ep, 1, true);
  const e1 = s.write(h1, chunkBytes(h1));
  const listed = new SpoolDir(dir, 'none').open().entries;
  assert.deepEqual(listed.map((e) => [e.chunk, e.offset === null]), [[0, true], [1, false]]);
  const r = decodeRolloutChunk(s.read(scan.entries[0]) as Uint8Array, { maxBytes: 1 << 20 });
  assert.ok(r.ok && r.value.header.episode === ep);
  assert.equal(s.remove(scan.entries[0]), true);
  assert.equal(existsSync(join(dir, scan.entries[0].file)), false);
  assert.equal(s.remove(e1), true);
  assert.deepEqual(readdirSync(dir).filter((f) => f !== QUARANTINE_DIR), []);
});

test('spool dir: an episode left open by a killed process is closed with a zero-step "aborted" final chunk after every chunk on disk', () => {
  const dir = tempDir();
  const s = new SpoolDir(dir, 'none');
  s.open();
  const ep = `${RUN}:4`;
  for (const i of [0, 1]) { const h = header(ep, i); s.write(h, chunkBytes(h)); }
  // The marker may be behind the chunks on disk (it is brought up to date only before chunks leave the disk).
  const marker = JSON.parse(readFileSync(join(dir, `open_${RUN}_4.json`), 'utf8'));
  assert.ok(marker.next_chunk >= 1 && marker.next_chunk <= 2);
  writeFileSync(join(dir, `open_${RUN}_4.json`), JSON.stringify({ ...marker, next_chunk: 0 }));

  const scan = new SpoolDir(dir, 'none').open();
  assert.equal(scan.tombstones, 1);
  const last = scan.entries[scan.entries.length - 1];
  assert.deepEqual([last.chunk, last.final], [2, true]);
  const r = decodeRolloutChunk(new SpoolDir(dir, 'none').read(last) as Uint8Array, { maxBytes: 1 << 20 });
  assert.ok(r.ok);
  assert.equal(r.value.header.outcome, 'aborted');
  assert.equal(r.value.header.n, 0);
  assert.equal(existsSync(join(dir, `open_${RUN}_4.json`)), false);
  assert.equal(new SpoolDir(dir, 'none').open().tombstones, 0, 'recovery runs once');
});

test('spool dir: chunks acknowledged and deleted before a crash: the marker numbers the closing chunk past them', () => {
  const dir = tempDir();
  const s = new SpoolDir(dir, 'none');
  s.open();
  const ep = `${RUN}:6`;
  const entries: ReturnType<SpoolDir['write']>[] = [];
  for (let i = 0; i < SEGMENT_ROLL_RECORDS + 2; i++) { const h = header(ep, i); entries.push(s.write(h, chunkBytes(h))); }
  for (const e of entries.filter((x) => x.file === entries[0].file)) s.remove(e); // the first segment acked and gone
  const scan = new SpoolDir(dir, 'none').open(); // the process was killed here
  const last = scan.entries[scan.entries.length - 1];
  assert.deepEqual([last.chunk, last.final], [SEGMENT_ROLL_RECORDS + 2, true]);
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
    const r = decodeRolloutChunk(s.read(e) as Uint8Array, { maxBytes: 1 << 24 });
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

test('recorder: two buffer sets, reused for 60 chunks as fast as the spool frees them: every step of every chunk lands as recorded', async () => {
  // The sets are shared memory that the spool worker reads while it encodes: a set refilled before the worker
  // released it would show up here as rows of a later chunk.
  const dir = tempDir();
  const { spool, recorder } = await openRecorder(dir, { buffers: 2, chunkSteps: 10 });
  const steps = new SyntheticSteps();
  recorder.onEpisodeStart({ episode: 0, instruction: 'push it' });
  let fed = 0;
  let missed = 0;
  while (fed < 600) {
    if (!recorder.recording) { await new Promise((r) => setImmediate(r)); continue; }
    const before = recorder.stats.unrecordedSteps;
    recorder.onStep(steps.next(0, fed, fed === 599));
    missed += recorder.stats.unrecordedSteps - before;
    fed++;
  }
  recorder.onEpisodeEnd({ episode: 0, instruction: 'push it', outcome: 'timeout' });
  await spool.flushed();
  await spool.close();
  assert.equal(missed, 0);
  const chunks = decodeAll(dir);
  // 60 full chunks; the episode ended on a chunk boundary, so the last one is its final chunk (no empty one)
  assert.deepEqual(chunks.map((c) => c.header.n), Array.from({ length: 60 }, () => 10));
  assert.deepEqual(chunks.map((c) => c.header.final), Array.from({ length: 60 }, (_, i) => i === 59));
  assert.deepEqual(chunks.flatMap((c) => [...c.columns.step]), Array.from({ length: 600 }, (_, i) => i));
  for (const c of chunks) {
    for (let r = 0; r < c.header.n; r++) {
      const i = c.columns.step[r];
      assert.deepEqual([...c.columns.observation.subarray(r * 4, r * 4 + 4)], [0, 1, 2, 3].map((k) => i * 8 + k));
      assert.deepEqual([...c.columns.action.subarray(r * 2, r * 2 + 2)], [i, -i]);
      assert.equal(c.columns.stampMs[r], i * 20);
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
  // The configured bound (64 MB) is far above what the disk holds (about 3 chunks of ~950 bytes, an open marker
  // and the final chunk): the disk fills first.
  const { spool, recorder, alarms } = await openRecorder(dir, { chunkSteps: 10, buffers: 3, capacityBytes: 4400 });
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

import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { test } from 'node:test';
import { decode, encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import {
  REWARD_COMPONENTS, ROLLOUT_VERSION, checkRolloutChunk, decodeRolloutChunk, encodeRolloutChunk, type RewardComponent, type RolloutColumns,
  type RolloutHeaderInput, type RolloutLayout,
} from '../src/contracts/rollout.js';

const LAYOUT: RolloutLayout = {
  observation: [{ name: 'joint_positions', size: 2 }, { name: 'block_position', size: 2 }],
  joints: ['x', 'y'],
  reward: [...REWARD_COMPONENTS],
  camera: null,
};

function header(n: number, over: Partial<RolloutHeaderInput> = {}): RolloutHeaderInput {
  return {
    v: ROLLOUT_VERSION, robot: 'arm-1', episode: '0b6f3c1e-0000-4000-8000-000000000001:3', chunk: 2, policy_version: 'bc-7',
    task: 'push', instruction: 'push the red block onto the green pad', stamp: '2025-01-01T00:00:00.000Z',
    stamp_origin_unix_ms: 1_700_000_000_000, layout: LAYOUT, n, skipped_steps: 0, final: false, outcome: null, end_reason: null,
    ...over,
  };
}

function columns(n: number, layout = LAYOUT, seed = 1): RolloutColumns {
  const obs = layout.observation.reduce((s, f) => s + f.size, 0);
  const act = layout.joints.length;
  const reward = {} as Record<RewardComponent, Float32Array>;
  REWARD_COMPONENTS.forEach((k, j) => { reward[k] = Float32Array.from({ length: n }, (_, i) => (i === 1 && k === 'raw_progress' ? Number.NaN : seed * 0.5 + i * 0.25 + j)); });
  return {
    observation: Float32Array.from({ length: n * obs }, (_, i) => seed + i * 0.125),
    action: Float32Array.from({ length: n * act }, (_, i) => -i * 0.5),
    command: Float32Array.from({ length: n * act }, (_, i) => -i * 0.25),
    progress: Float32Array.from({ length: n }, (_, i) => i / Math.max(1, n)),
    reward,
    flags: Uint8Array.from({ length: n }, (_, i) => (i === n - 1 ? 1 : 0)),
    step: Int32Array.from({ length: n }, (_, i) => 100 + i),
    stampMs: Float64Array.from({ length: n }, (_, i) => 1234.5 + i * 20),
    frames: null,
    frameStep: null,
  };
}

const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const LIMITS = { maxBytes: 1 << 20 };

test('codec: a chunk survives encode → decode, uncompressed and gzip, NaN rewards included', () => {
  for (const compression of ['none', 'gzip'] as const) {
    const h = header(5);
    const c = columns(5);
    const wire = encodeRolloutChunk(h, c, compression);
    const r = decodeRolloutChunk(wire, LIMITS);
    assert.ok(r.ok, r.ok ? '' : `${r.code}: ${r.error}`);
    assert.equal(r.value.header.compression, compression);
    assert.equal(r.value.header.episode, h.episode);
    assert.deepEqual(bytes(r.value.columns.observation), bytes(c.observation));
    assert.deepEqual(bytes(r.value.columns.command), bytes(c.command));
    assert.deepEqual(bytes(r.value.columns.stampMs), bytes(c.stampMs));
    assert.deepEqual([...r.value.columns.step], [100, 101, 102, 103, 104]);
    assert.ok(Number.isNaN(r.value.columns.reward.raw_progress[1]));
    assert.equal(r.value.columns.reward.total[2], c.reward.total[2]);
  }
});

test('codec: a chunk built by hand with a generic MessagePack encoder decodes (the reader is not tested only against its writer)', () => {
  const obs = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]); // n = 2, obs dim 4
  const act = new Float32Array([0.1, 0.2, 0.3, 0.4]);
  const f = (n: number) => bytes(new Float32Array(n).fill(0.5));
  const body = encode({
    observation: bytes(obs), action: bytes(act), command: bytes(act), progress: f(2),
    reward: Object.fromEntries(REWARD_COMPONENTS.map((k) => [k, f(2)])),
    flags: new Uint8Array([0, 3]), step: bytes(new Int32Array([0, 1])), stamp_ms: bytes(new Float64Array([10, 30])),
    frames: null, frame_step: null,
  });
  const gz = gzipSync(body);
  const wire = encode({ ...header(2, { final: true, outcome: 'timeout', chunk: 0 }), compression: 'gzip', body_bytes: body.byteLength, body: gz });
  const r = decodeRolloutChunk(wire, LIMITS);
  assert.ok(r.ok, r.ok ? '' : `${r.code}: ${r.error}`);
  assert.deepEqual([...r.value.columns.observation], [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual([...r.value.columns.flags], [0, 3]);
  assert.equal(r.value.header.outcome, 'timeout');

  // And the writer's output reads back with the generic decoder as the documented map.
  const mine = decode(encodeRolloutChunk(header(2), columns(2), 'none')) as Record<string, unknown>;
  assert.equal(mine.v, 1);
  assert.equal(mine.compression, 'none');
  const inner = decode(mine.body as Uint8Array) as Record<string, Uint8Array>;
  assert.equal(inner.observation.byteLength, 2 * 4 * 4);
  assert.equal(inner.stamp_ms.byteLength, 2 * 8);
});

test('codec: the size cap is checked before decoding', () => {
  const junk = new Uint8Array(2048).fill(0xc1); // 0xc1 is never valid MessagePack
  const r = decodeRolloutChunk(junk, { maxBytes: 1024 });
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.code, 'oversized');
  const fine = encodeRolloutChunk(header(3), columns(3), 'none');
  const r2 = decodeRolloutChunk(fine, { maxBytes: fine.byteLength - 1 });
  assert.equal(!r2.ok && r2.code, 'oversized');
});

test('codec: an unknown version is rejected with the chunk identity, so the robot can be told', () => {
  const raw = decode(encodeRolloutChunk(header(1), columns(1), 'none')) as Record<string, unknown>;
  const r = decodeRolloutChunk(encode({ ...raw, v: 2 }), LIMITS);
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.code, 'version');
  assert.deepEqual(r.identity, { robot: 'arm-1', episode: header(1).episode, chunk: 2 });
  const none = decodeRolloutChunk(encode({ robot: 'arm-1' }), LIMITS);
  assert.equal(!none.ok && none.code, 'version');
});

test('codec: malformed MessagePack, non-maps and truncated chunks are rejected, never thrown', () => {
  const good = encodeRolloutChunk(header(4), columns(4), 'gzip');
  const cases: [Uint8Array, string][] = [
    [new Uint8Array([0xc1, 0x00]), 'malformed'],
    [encode([1, 2, 3]), 'malformed'],
    [encode('a string'), 'malformed'],
    [good.subarray(0, good.byteLength - 7), 'malformed'],
    [new Uint8Array(0), 'malformed'],
    [Buffer.concat([Buffer.from([0x81, 0xa9]), Buffer.from('__proto__'), Buffer.from([0x80])]), 'malformed'], // prototype pollution
  ];
  for (const [payload, code] of cases) {
    const r = decodeRolloutChunk(payload, LIMITS);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.code, code);
  }
});

test('codec: columns that do not match the layout, and inconsistent headers, are invalid', () => {
  const raw = decode(encodeRolloutChunk(header(3), columns(3), 'none')) as Record<string, any>;
  const inner = decode(raw.body) as Record<string, any>;
  const rewrap = (body: Record<string, unknown>, over: Record<string, unknown> = {}) => {
    const b = encode(body);
    return encode({ ...raw, body: b, body_bytes: b.byteLength, ...over });
  };
  const short = rewrap({ ...inner, observation: inner.observation.subarray(0, 8) });
  const r1 = decodeRolloutChunk(short, LIMITS);
  assert.equal(!r1.ok && r1.code, 'invalid');
  assert.match(!r1.ok ? r1.error : '', /observation/);
  const r2 = decodeRolloutChunk(rewrap(inner, { final: true }), LIMITS); // final without an outcome
  assert.equal(!r2.ok && r2.code, 'invalid');
  const r3 = decodeRolloutChunk(rewrap(inner, { episode: '../../etc' }), LIMITS);
  assert.equal(!r3.ok && r3.code, 'invalid');
  const r4 = decodeRolloutChunk(rewrap({ ...inner, step: bytes(new Int32Array([5, 4, 6])) }), LIMITS);
  assert.equal(!r4.ok && r4.code, 'invalid');
  const r5 = decodeRolloutChunk(rewrap({ ...inner, extra: new Uint8Array(1) }), LIMITS);
  assert.equal(!r5.ok && r5.code, 'invalid');
  const r6 = decodeRolloutChunk(rewrap(inner, { compression: 'lz4' }), LIMITS);
  assert.equal(!r6.ok && r6.code, 'invalid');
});

test('codec: a gzip body larger than its declared size is refused (decompression bomb)', () => {
  const raw = decode(encodeRolloutChunk(header(2), columns(2), 'none')) as Record<string, any>;
  const big = new Uint8Array(4 << 20); // 4 MiB of zeros, a few KB compressed
  const bomb = encode({ ...raw, compression: 'gzip', body_bytes: 100, body: gzipSync(big) });
  const r = decodeRolloutChunk(bomb, LIMITS);
  assert.equal(r.ok, false);
  assert.ok(!r.ok && (r.code === 'malformed' || r.code === 'invalid'));
  const declared = encode({ ...raw, compression: 'gzip', body_bytes: 64 << 20, body: gzipSync(big) });
  const r2 = decodeRolloutChunk(declared, { maxBytes: 1 << 20 });
  assert.equal(!r2.ok && r2.code, 'oversized');
});

test('codec: frames travel with their step indices', () => {
  const layout: RolloutLayout = { ...LAYOUT, camera: { name: 'top', width: 4, height: 2, channels: 3 } };
  const c = { ...columns(6, layout), frames: Uint8Array.from({ length: 2 * 24 }, (_, i) => i), frameStep: new Int32Array([100, 103]) };
  const r = decodeRolloutChunk(encodeRolloutChunk(header(6, { layout }), c, 'gzip'), LIMITS);
  assert.ok(r.ok, r.ok ? '' : r.error);
  assert.deepEqual([...(r.value.columns.frameStep ?? [])], [100, 103]);
  assert.equal(r.value.columns.frames?.[47], 47);
});

test('codec property: random chunks round-trip bit for bit', () => {
  const f32 = fc.float({ noDefaultInfinity: false });
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 5 }),
    fc.boolean(), fc.constantFrom('none' as const, 'gzip' as const), fc.string({ maxLength: 50 }), fc.integer({ min: 0, max: 1000 }),
    fc.array(f32, { minLength: 1, maxLength: 64 }),
    (n, obsDim, joints, final, compression, instruction, skipped, pool) => {
      const layout: RolloutLayout = { observation: [{ name: 'o', size: obsDim }], joints: Array.from({ length: joints }, (_, i) => `j${i}`), reward: [...REWARD_COMPONENTS], camera: null };
      const pick = (i: number) => pool[i % pool.length];
      const reward = {} as Record<RewardComponent, Float32Array>;
      REWARD_COMPONENTS.forEach((k, j) => { reward[k] = Float32Array.from({ length: n }, (_, i) => pick(i * 7 + j)); });
      const c: RolloutColumns = {
        observation: Float32Array.from({ length: n * obsDim }, (_, i) => pick(i)),
        action: Float32Array.from({ length: n * joints }, (_, i) => pick(i + 3)),
        command: Float32Array.from({ length: n * joints }, (_, i) => pick(i + 5)),
        progress: Float32Array.from({ length: n }, (_, i) => pick(i + 11)), reward,
        flags: Uint8Array.from({ length: n }, (_, i) => i & 0x1f), step: Int32Array.from({ length: n }, (_, i) => i * 2),
        stampMs: Float64Array.from({ length: n }, (_, i) => pick(i) * 1000), frames: null, frameStep: null,
      };
      const h = header(n, { layout, final, outcome: final ? 'success' : null, instruction, skipped_steps: skipped });
      const r = decodeRolloutChunk(encodeRolloutChunk(h, c, compression), { maxBytes: 1 << 22 });
      if (!r.ok) throw new Error(`${r.code}: ${r.error}`);
      const d = r.value.columns;
      assert.deepEqual(bytes(d.observation), bytes(c.observation));
      assert.deepEqual(bytes(d.action), bytes(c.action));
      assert.deepEqual(bytes(d.command), bytes(c.command));
      assert.deepEqual(bytes(d.stampMs), bytes(c.stampMs));
      for (const k of REWARD_COMPONENTS) assert.deepEqual(bytes(d.reward[k]), bytes(c.reward[k]));
      assert.deepEqual(bytes(d.flags), bytes(c.flags));
      assert.equal(r.value.header.instruction, instruction);
      assert.equal(r.value.header.skipped_steps, skipped);
    },
  ), { numRuns: 150 });
});

test('codec property: arbitrary bytes never throw and are never accepted', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (b) => {
    const r = decodeRolloutChunk(b, LIMITS);
    assert.equal(r.ok, false);
  }), { numRuns: 500 });
});

test('codec property: the updater\'s check-only path accepts and refuses exactly what the full decode does', () => {
  // The updater validates with checkRolloutChunk (no column copies) and stores the body; training later decodes
  // it in full. Whatever the check accepts must decode, with the same step range, and vice versa.
  const agree = (payload: Uint8Array) => {
    const d = decodeRolloutChunk(payload, LIMITS);
    const c = checkRolloutChunk(payload, LIMITS);
    assert.equal(c.ok, d.ok, d.ok ? 'check refused a chunk the decoder reads' : `check accepted a chunk the decoder refuses (${d.code}: ${d.error})`);
    if (c.ok && d.ok) {
      const n = d.value.header.n;
      assert.equal(c.value.firstStep, n > 0 ? d.value.columns.step[0] : null);
      assert.equal(c.value.lastStep, n > 0 ? d.value.columns.step[n - 1] : null);
      assert.deepEqual(c.value.header, d.value.header);
      assert.deepEqual(bytes(c.value.body), bytes(d.value.body));
    } else if (!c.ok && !d.ok) {
      assert.equal(c.code, d.code);
      assert.equal(c.error, d.error);
    }
  };
  const raw = decode(encodeRolloutChunk(header(3), columns(3), 'none')) as Record<string, any>;
  const inner = decode(raw.body) as Record<string, any>;
  const rewrap = (body: Record<string, unknown>) => { const b = encode(body); return encode({ ...raw, body: b, body_bytes: b.byteLength }); };
  agree(rewrap({ ...inner, step: bytes(new Int32Array([5, 4, 6])) }));
  agree(rewrap({ ...inner, stamp_ms: inner.stamp_ms.subarray(0, 16) }));
  agree(rewrap({ ...inner, flags: new Uint8Array(2) }));
  agree(encodeRolloutChunk(header(0, { final: true, outcome: 'success' }), columns(0), 'none'));
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 12 }), fc.constantFrom('none' as const, 'gzip' as const), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean(),
    (n, compression, at, value, mutate) => {
      const payload = encodeRolloutChunk(header(n, n === 0 ? { final: true, outcome: 'timeout' } : {}), columns(n, LAYOUT, 1 + (at % 7)), compression);
      if (mutate) payload[at % payload.byteLength] = value;
      agree(payload);
    },
  ), { numRuns: 400 });
});

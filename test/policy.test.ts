import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isStriatumError } from '../src/errors.js';
import { createLogger, silentLogger } from '../src/log.js';
import { SequentialChunks, TemporalEnsemble } from '../src/policy/ensemble.js';
import { OnnxPolicy, type PolicyExpectations } from '../src/policy/onnx-policy.js';
import { linearPolicyModel } from './helpers/onnx-builder.js';
import { SIM_FIELDS, tempDir, writeLinearPolicy } from './helpers/fixtures.js';

const want = (over: Partial<PolicyExpectations> = {}): PolicyExpectations => ({
  observationFields: SIM_FIELDS, jointNames: ['x', 'y'], mode: 'velocity', chunk: 1, execution: 'ensemble',
  ensembleDecay: 0.01, scale: Float64Array.of(1, 1), normalization: 'model', ...over,
});

async function refusal(p: Promise<unknown>): Promise<{ code: string; details: readonly string[] }> {
  try {
    await p;
  } catch (err) {
    assert.ok(isStriatumError(err), String(err));
    return { code: err.code, details: err.details };
  }
  assert.fail('expected the policy to be refused');
}

const load = (modelPath: string, w = want(), providers: ('cpu' | 'cuda' | 'tensorrt')[] = ['cpu'], logger = silentLogger) =>
  OnnxPolicy.load({ modelPath, providers, threads: 1, warmupRuns: 1, logger }, w);

test('normalization in, denormalization and scale out, as computed by hand', async () => {
  const dir = tempDir();
  const model = writeLinearPolicy(dir, { gain: 1 }); // a = block − joint, per axis
  const meta = JSON.parse(readFileSync(join(dir, 'policy.json'), 'utf8'));
  meta.observation.mean = [0.1, 0.2, 0, 0, 0.3, 0.4, 0, 0];
  meta.observation.std = [2, 2, 1, 1, 4, 4, 1, 1];
  meta.action.mean = [0.05, -0.05];
  meta.action.std = [0.5, 0.25];
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(meta));
  const policy = await load(model, want({ scale: Float64Array.of(2, 1) }));
  const obs = Float64Array.of(0.5, 0.6, 0, 0, 0.7, 0.2, 0, 0);
  const out = new Float64Array(2);
  await policy.act(obs, out);
  // normalized: joint (0.2, 0.2), block (0.1, −0.05); model: block − joint = (−0.1, −0.25)
  const expected = [(-0.1 * 0.5 + 0.05) * 2, -0.25 * 0.25 - 0.05];
  assert.ok(Math.abs(out[0] - expected[0]) < 1e-6 && Math.abs(out[1] - expected[1]) < 1e-6, `${[...out]} vs ${expected}`);
  await policy.close();
});

test('a model whose input has the wrong width is refused, naming the tensor and dimension', async () => {
  const dir = tempDir();
  const model = linearPolicyModel(7, 2, 1, new Array(14).fill(0), [0, 0]);
  writeFileSync(join(dir, 'p.onnx'), model);
  const meta = { format: 'striatum.policy/v1', name: 'p', version: '1', task: 'push', model: 'p.onnx',
    inputs: [{ name: 'observation', shape: [-1, 8], dtype: 'float32' }], outputs: [{ name: 'action', shape: [-1, 1, 2], dtype: 'float32' }],
    observation: { fields: SIM_FIELDS }, action: { mode: 'velocity', joints: ['x', 'y'], chunk: 1 } };
  writeFileSync(join(dir, 'p.json'), JSON.stringify(meta));
  const r = await refusal(load(join(dir, 'p.onnx')));
  assert.equal(r.code, 'STRIATUM_ERR_POLICY_SHAPE');
  assert.ok(r.details.some((d) => d.includes('input tensor "observation"') && d.includes('dimension 1 is 7')), r.details.join('\n'));
});

test('metadata that does not fit the robot is refused with every mismatch listed', async () => {
  const dir = tempDir();
  const model = writeLinearPolicy(dir);
  const r = await refusal(load(model, want({ jointNames: ['y', 'x'], mode: 'position', chunk: 4,
    observationFields: [...SIM_FIELDS.slice(0, 3), { name: 'goal_position', size: 2 }] })));
  assert.equal(r.code, 'STRIATUM_ERR_POLICY_SHAPE');
  const text = r.details.join('\n');
  assert.match(text, /observation field 3: model expects "pad_position"/);
  assert.match(text, /action joints/);
  assert.match(text, /action mode/);
  assert.match(text, /action chunk/);
  assert.match(text, /output tensor "action": dimension 1 is 1, robot needs 4/);
});

test('an input name the model does not have is refused', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'p.onnx'), linearPolicyModel(8, 2, 1, new Array(16).fill(0), [0, 0], { input: 'obs', output: 'action' }));
  writeFileSync(join(dir, 'p.json'), JSON.stringify({ format: 'striatum.policy/v1', name: 'p', version: '1', task: 'push', model: 'p.onnx',
    inputs: [{ name: 'observation', shape: [-1, 8], dtype: 'float32' }], outputs: [{ name: 'action', shape: [-1, 1, 2], dtype: 'float32' }],
    observation: { fields: SIM_FIELDS }, action: { mode: 'velocity', joints: ['x', 'y'], chunk: 1 } }));
  const r = await refusal(load(join(dir, 'p.onnx')));
  assert.ok(r.details.some((d) => d.includes('input tensor "observation": not in the model, which has [obs]')), r.details.join('\n'));
});

test('a model whose bytes do not match the metadata sha256 is refused', async () => {
  const dir = tempDir();
  const model = writeLinearPolicy(dir);
  const meta = JSON.parse(readFileSync(join(dir, 'policy.json'), 'utf8'));
  meta.sha256 = createHash('sha256').update(readFileSync(model)).digest('hex');
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(meta));
  await (await load(model)).close();
  const bytes = readFileSync(model);
  bytes[bytes.length - 3] ^= 0xff; // tamper with a weight
  writeFileSync(model, bytes);
  assert.equal((await refusal(load(model))).code, 'STRIATUM_ERR_POLICY_LOAD');
});

test('malformed metadata is refused with field paths', async () => {
  const dir = tempDir();
  const model = writeLinearPolicy(dir);
  writeFileSync(join(dir, 'policy.json'), JSON.stringify({ format: 'striatum.policy/v1', name: 'p' }));
  const r = await refusal(load(model));
  assert.equal(r.code, 'STRIATUM_ERR_POLICY_METADATA');
  assert.ok(r.details.some((d) => d.startsWith('inputs:')), r.details.join('\n'));
});

test('execution providers fall back in order and the one in use is logged', async () => {
  const dir = tempDir();
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', sink: { pretty: false, write: (l) => lines.push(l) } });
  const policy = await load(writeLinearPolicy(dir), want(), ['tensorrt', 'cuda', 'cpu'], logger);
  assert.equal(policy.provider, 'cpu');
  const logs = lines.map((l) => JSON.parse(l));
  assert.ok(logs.some((l) => l.msg === 'policy loaded' && l.provider === 'cpu'));
  assert.ok(logs.filter((l) => l.msg.startsWith('execution provider unavailable')).length >= 1);
  await policy.close();
});

test('temporal ensembling blends overlapping chunks with ACT weights', () => {
  const m = 0.5;
  const ens = new TemporalEnsemble(3, 1, m);
  const out = new Float64Array(1);
  ens.push([10, 11, 12], out); // tick 0: only prediction made at t0 for t0
  assert.equal(out[0], 10);
  ens.push([20, 21, 22], out); // tick 1: t0's row 1 (11, oldest, w=1) and t1's row 0 (20, w=e^-m)
  const w1 = Math.exp(-m);
  assert.ok(Math.abs(out[0] - (11 + 20 * w1) / (1 + w1)) < 1e-12);
  ens.push([30, 31, 32], out); // tick 2: 12 (w=1), 21 (e^-m), 30 (e^-2m)
  const w2 = Math.exp(-2 * m);
  assert.ok(Math.abs(out[0] - (12 + 21 * w1 + 30 * w2) / (1 + w1 + w2)) < 1e-12);
  ens.push([40, 41, 42], out); // tick 3: t0's chunk expired: 22, 31, 40
  assert.ok(Math.abs(out[0] - (22 + 31 * w1 + 40 * w2) / (1 + w1 + w2)) < 1e-12);
  ens.reset();
  ens.push([5, 6, 7], out);
  assert.equal(out[0], 5);
});

test('sequential chunks play open-loop and ask for a new chunk when spent', () => {
  const seq = new SequentialChunks(2, 2);
  const out = new Float64Array(2);
  assert.equal(seq.needsChunk, true);
  seq.load([1, 2, 3, 4]);
  seq.next(out);
  assert.deepEqual([...out], [1, 2]);
  assert.equal(seq.needsChunk, false);
  seq.next(out);
  assert.deepEqual([...out], [3, 4]);
  assert.equal(seq.needsChunk, true);
});

test('a chunked ONNX policy runs with temporal ensembling end to end', async () => {
  const dir = tempDir();
  const policy = await load(writeLinearPolicy(dir, { gain: 1, chunk: 4 }), want({ chunk: 4 }));
  const out = new Float64Array(2);
  await policy.act(Float64Array.of(0, 0, 0, 0, 0.5, 0.25, 0, 0), out);
  assert.ok(Math.abs(out[0] - 0.5) < 1e-6 && Math.abs(out[1] - 0.25) < 1e-6, 'every chunk row is the same, so the blend is too');
  await policy.close();
});

test('the policy step finishes within act(): the action is written before it returns, with no event-loop turn', async () => {
  const dir = tempDir();
  const policy = await load(writeLinearPolicy(dir, { gain: 1 }));
  const out = new Float64Array(2).fill(Number.NaN);
  const returned = policy.act(Float64Array.of(0.2, 0.3, 0, 0, 0.5, 0.1, 0, 0), out);
  assert.equal(returned, undefined, 'act() returns nothing to await');
  assert.ok(out.every(Number.isFinite), `action written at once: ${[...out]}`);
  await policy.close();
});

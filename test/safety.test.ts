import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SafetyFilter, type SafetyLimits } from '../src/control/safety.js';
import { ControlStateMachine } from '../src/control/state-machine.js';

const limits = (maxDelta = 10): SafetyLimits => ({
  positionMin: Float64Array.of(-1, 0),
  positionMax: Float64Array.of(1, 2),
  velocityMax: Float64Array.of(0.5, 1),
  effortMax: Float64Array.of(5, 10),
  maxDelta: Float64Array.of(maxDelta, maxDelta),
});

test('velocity commands are clamped to the velocity limit', () => {
  const f = new SafetyFilter(limits(), 'velocity', 0.01);
  const out = new Float64Array(2);
  assert.equal(f.apply(Float64Array.of(3, -7), Float64Array.of(0, 1), out), true);
  assert.deepEqual([...out], [0.5, -1]);
  assert.equal(f.clampedVelocity, 2);
});

test('velocity commands never drive through a position limit within one period', () => {
  const f = new SafetyFilter(limits(), 'velocity', 0.1);
  const out = new Float64Array(2);
  // Joint 0 is 0.02 from its max: at most 0.2 m/s for 0.1 s. Joint 1 sits at its min: no negative velocity.
  f.apply(Float64Array.of(0.5, -0.5), Float64Array.of(0.98, 0), out);
  assert.ok(Math.abs(out[0] - 0.2) < 1e-9, String(out[0]));
  assert.equal(out[1], 0);
  assert.equal(f.clampedPosition, 2);
});

test('position commands are clamped to limits and rate-limited per tick', () => {
  const f = new SafetyFilter(limits(0.1), 'position', 0.01);
  f.reset(Float64Array.of(0, 1));
  const out = new Float64Array(2);
  f.apply(Float64Array.of(5, 1.05), Float64Array.of(0, 1), out);
  assert.ok(Math.abs(out[0] - 0.1) < 1e-12, 'moves at most maxDelta toward the clamped target');
  assert.ok(Math.abs(out[1] - 1.05) < 1e-12);
  assert.equal(f.clampedPosition, 1);
  assert.equal(f.clampedDelta, 1);
  for (let i = 0; i < 20; i++) f.apply(Float64Array.of(5, 1.05), Float64Array.of(0, 1), out);
  assert.equal(out[0], 1, 'settles at the position limit, never beyond');
});

test('effort commands are clamped symmetrically', () => {
  const f = new SafetyFilter(limits(100), 'effort', 0.01);
  const out = new Float64Array(2);
  f.apply(Float64Array.of(-50, 50), Float64Array.of(0, 0), out);
  assert.deepEqual([...out], [-5, 10]);
});

test('a NaN or infinite action holds the last safe command and reports it', () => {
  const f = new SafetyFilter(limits(), 'velocity', 0.01);
  const out = new Float64Array(2);
  f.apply(Float64Array.of(0.2, 0.3), Float64Array.of(0, 1), out);
  for (const bad of [NaN, Infinity, -Infinity]) {
    const ok = f.apply(Float64Array.of(0.4, bad), Float64Array.of(0, 1), out);
    assert.equal(ok, false);
    assert.deepEqual([...out], [0.2, 0.3]);
  }
  assert.equal(f.nonfiniteActions, 3);
});

test('the safe command holds position in position mode and is zero otherwise', () => {
  const out = new Float64Array(2);
  new SafetyFilter(limits(), 'position', 0.01).safeCommand(Float64Array.of(0.5, 3), out);
  assert.deepEqual([...out], [0.5, 2], 'held at the measured position, clamped into limits');
  new SafetyFilter(limits(), 'velocity', 0.01).safeCommand(Float64Array.of(0.5, 3), out);
  assert.deepEqual([...out], [0, 0]);
});

test('e-stop latches: only arm leaves it, to paused, and resume is needed to run', () => {
  const sm = new ControlStateMachine();
  const seen: string[] = [];
  sm.onTransition((t) => seen.push(`${t.from}->${t.to}`));
  assert.equal(sm.handle('resume', 'start'), true);
  assert.equal(sm.handle('estop', 'operator'), true);
  assert.equal(sm.handle('resume', 'try'), false, 'resume does not leave estopped');
  assert.equal(sm.handle('pause', 'try'), false);
  assert.equal(sm.state, 'estopped');
  assert.equal(sm.handle('arm', 'operator'), true);
  assert.equal(sm.state, 'paused');
  assert.equal(sm.handle('resume', 'operator'), true);
  assert.equal(sm.handle('fault', 'nan_action'), true);
  assert.equal(sm.state, 'estopped');
  assert.deepEqual(seen, ['idle->running', 'running->estopped', 'estopped->paused', 'paused->running', 'running->estopped']);
});

test('device limits tighter than the config narrow the safety limits, and are reported', async () => {
  const { parseConfigText } = await import('../src/config/load.js');
  const { resolveLimits } = await import('../src/runtime/resolve.js');
  const { simConfig } = await import('./helpers/fixtures.js');
  const cfg = parseConfigText(JSON.stringify(simConfig('p.onnx')), 'test');
  const narrowed: string[] = [];
  const l = resolveLimits(cfg, [
    { positionMin: 0.1, positionMax: 0.5, velocityMax: 1, effortMax: 5 }, // tighter position and effort than x's
    { positionMin: 0, positionMax: 1, velocityMax: 1, effortMax: 100 }, // looser everywhere than y's
  ], narrowed);
  assert.deepEqual([l.positionMin[0], l.positionMax[0], l.velocityMax[0], l.effortMax[0]], [0.1, 0.5, 0.25, 5]);
  assert.deepEqual([l.positionMin[1], l.positionMax[1], l.velocityMax[1], l.effortMax[1]], [0.03, 0.77, 0.25, 20]);
  assert.deepEqual(narrowed, ['x']);
});

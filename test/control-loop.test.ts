import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildOnnxModel } from './helpers/onnx-builder.js';
import { SIM_FIELDS, tempDir, writeLinearPolicy } from './helpers/fixtures.js';
import { simLoop } from './helpers/loop-harness.js';

/** A policy whose every output is NaN: sqrt(0·x − 1). */
function writeNanPolicy(dir: string): string {
  const model = buildOnnxModel({
    inputs: [{ name: 'observation', shape: ['batch', 8] }],
    outputs: [{ name: 'action', shape: ['batch', 1, 2] }],
    nodes: [
      { op: 'MatMul', inputs: ['observation', 'W'], outputs: ['mm'] },
      { op: 'Add', inputs: ['mm', 'b'], outputs: ['neg'] },
      { op: 'Sqrt', inputs: ['neg'], outputs: ['flat'] },
      { op: 'Reshape', inputs: ['flat', 'shape'], outputs: ['action'] },
    ],
    initializers: [
      { name: 'W', dims: [8, 2], values: new Array(16).fill(0) },
      { name: 'b', dims: [2], values: [-1, -1] },
      { name: 'shape', dims: [3], values: [-1, 1, 2], int64: true },
    ],
  });
  writeFileSync(join(dir, 'nan.onnx'), model);
  writeFileSync(join(dir, 'nan.json'), JSON.stringify({
    format: 'striatum.policy/v1', name: 'nan', version: '1', task: 'push', model: 'nan.onnx',
    inputs: [{ name: 'observation', shape: [-1, 8], dtype: 'float32' }], outputs: [{ name: 'action', shape: [-1, 1, 2], dtype: 'float32' }],
    observation: { fields: SIM_FIELDS }, action: { mode: 'velocity', joints: ['x', 'y'], chunk: 1 },
  }));
  return join(dir, 'nan.onnx');
}

test('the loop runs a real ONNX policy on the simulator and finishes episodes', async () => {
  const dir = tempDir();
  const steps: number[] = [];
  let firstDistance = NaN;
  let lastDistance = NaN;
  const { loop, episodes, transport } = await simLoop(writeLinearPolicy(dir, { gain: 3 }), {
    episodes: 2,
    onStep: (s) => {
      steps.push(s.step);
      const d = Math.hypot(s.observation[4] - s.observation[0], s.observation[5] - s.observation[1]);
      if (s.episode === 0 && s.step === 0) firstDistance = d;
      if (s.episode === 0) lastDistance = d;
      for (const v of s.command) assert.ok(Math.abs(v) <= 0.25 + 1e-9, 'commands stay within the velocity limit');
    },
  });
  const reason = await loop.run();
  assert.match(reason, /completed 2 episodes/);
  assert.equal(episodes.length, 2);
  assert.deepEqual(episodes.map((e) => e.seed), [7, 8]);
  assert.ok(episodes.every((e) => e.outcome === 'timeout' || e.outcome === 'success'));
  assert.ok(lastDistance < firstDistance * 0.5, `policy drives the pusher to the block: ${firstDistance} → ${lastDistance}`);
  assert.equal(steps[0], 0);
  assert.equal(loop.accounting.deadlineMisses, 0, 'virtual time never misses');
  await transport.close();
});

test('a NaN action faults into the latched safe state; arm then resume runs again', async () => {
  const dir = tempDir();
  const { loop, transport, transitions } = await simLoop(writeNanPolicy(dir), { episodes: 1, timeLimitS: 0.5 });
  await loop.run();
  assert.equal(loop.state, 'estopped');
  assert.equal(loop.lastFault, 'nan_action');
  assert.equal(loop.faults, 1, 'latched: later ticks do not fault again');
  assert.equal(transport.isEstopped, true, 'the transport holds its safe state');
  const world = transport.world;
  assert.ok(Math.hypot(world.pusherVelocity[0], world.pusherVelocity[1]) < 1e-6, 'the pusher is stopped');
  assert.deepEqual(transitions, ['idle->running (autostart)', 'running->estopped (fault: nan_action)']);
  assert.equal(loop.handleCommand('resume', 'test'), false, 'resume alone does not leave the safe state');
  assert.equal(loop.handleCommand('arm', 'test'), true);
  assert.equal(loop.state, 'paused');
  assert.equal(loop.handleCommand('resume', 'test'), true);
  assert.equal(loop.state, 'running');
  await transport.close();
});

test('an e-stop during a run stops the robot and stays latched', async () => {
  const dir = tempDir();
  let stoppedAt = -1;
  const { loop, transport } = await simLoop(writeLinearPolicy(dir, { gain: 3 }), {
    episodes: 1,
    timeLimitS: 1,
    onStep: (s, l) => { if (s.step === 10) { l.handleCommand('estop', 'test'); stoppedAt = s.step; } },
  });
  await loop.run();
  assert.equal(stoppedAt, 10);
  assert.equal(loop.state, 'estopped');
  assert.equal(transport.isEstopped, true);
  // The interrupted episode ends as aborted, which completes the run's one episode: the loop stops at once, so
  // let the simulated world run half a second under the latched e-stop before looking at the pusher.
  for (let i = 0; i < 25; i++) transport.stepSimulation(1 / 50);
  const v = transport.world.pusherVelocity;
  assert.ok(Math.hypot(v[0], v[1]) < 1e-3, `pusher stopped after e-stop, velocity ${v[0]}, ${v[1]}`);
  await transport.close();
});

test('a 3 s freeze of the control loop is a deadline storm fault', async () => {
  // A clock the test controls, marked real-time so the storm rule applies: sleeping jumps to the deadline, and a
  // freeze is a jump of the clock between two ticks.
  class FreezableClock {
    readonly realtime = true;
    t = 0;
    now(): number { return this.t; }
    sleepUntil(deadlineMs: number): Promise<void> {
      if (deadlineMs > this.t) this.t = deadlineMs;
      return new Promise((r) => setImmediate(r));
    }
  }
  const clock = new FreezableClock();
  const dir = tempDir();
  const { loop, transport, transitions } = await simLoop(writeLinearPolicy(dir, { gain: 3 }), {
    episodes: 1, timeLimitS: 2, clock,
    onStep: (s) => { if (s.step === 20) clock.t += 3000; },
  });
  await loop.run();
  assert.equal(loop.accounting.deadlineMisses, 1, 'the freeze is one late tick');
  assert.ok(loop.accounting.skippedPeriods >= 140, `and about 150 skipped periods: ${loop.accounting.skippedPeriods}`);
  assert.equal(loop.lastFault, 'deadline_storm');
  assert.equal(loop.state, 'estopped');
  assert.ok(transitions.includes('running->estopped (fault: deadline_storm)'), transitions.join(', '));
  await transport.close();
});

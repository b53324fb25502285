// Learning mode: the simulator's own success verdict and progress never reach what a learner is given. The same
// episodes (same seeds, same policy) are run through the real control loop, rollout recorder, spool, updater
// ingest, store, relabeler and snapshot writer twice: once with the simulator reporting its success and progress,
// once with it reporting neither. The training snapshots must be byte for byte the same; only the evaluation
// records (the episode summaries' ground_truth) differ.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeRolloutChunk } from '../src/contracts/rollout.js';
import { topics } from '../src/contracts/topics.js';
import type { EpisodeSummary, StepSink, StepView, SuccessJudge } from '../src/control/step.js';
import { silentLogger } from '../src/log.js';
import { readPolicyMetadata } from '../src/policy/metadata.js';
import { Recorder } from '../src/rollout/recorder.js';
import { Spool } from '../src/rollout/spool.js';
import { SpoolDir } from '../src/rollout/spool-dir.js';
import { SUCCESS_RADIUS_M } from '../src/sim/push-world.js';
import { Ingest } from '../src/updater/ingest.js';
import { relabelSettings } from '../src/updater/relabel.js';
import { RolloutStore } from '../src/updater/store.js';
import { writeTrainingSnapshot } from '../src/updater/training.js';
import { simLoop } from './helpers/loop-harness.js';
import { SIM_FIELDS, tempDir } from './helpers/fixtures.js';

const RUN = '11111111-2222-4333-8444-000000000011';
const MODEL = join(process.cwd(), 'models', 'push', 'policy.onnx');

/**
 * A deterministic stand-in for the success model: it judges what the robot perceives (the block and pad positions
 * in the observation of the step before, as a camera would show them), never the simulator's flag. It is stricter
 * than the simulator (its radius, 3 steps in a row), so the two disagree, as a learned model can: an episode
 * the simulator's flag ended would be shorter, and the snapshots would differ.
 */
class ObservedSuccessJudge implements StepSink, SuccessJudge {
  private readonly block: number;
  private readonly pad: number;
  private near = 0;

  constructor() {
    let offset = 0;
    const at: Record<string, number> = {};
    for (const f of SIM_FIELDS) { at[f.name] = offset; offset += f.size; }
    this.block = at.block_position;
    this.pad = at.pad_position;
  }

  successVerdict(): boolean {
    return this.near >= 3;
  }

  onEpisodeStart(): void {
    this.near = 0;
  }

  onStep(s: StepView): void {
    const o = s.observation;
    const d = Math.hypot(o[this.block] - o[this.pad], o[this.block + 1] - o[this.pad + 1]);
    this.near = d <= SUCCESS_RADIUS_M ? this.near + 1 : 0;
  }

  onEpisodeEnd(): void {}
}

async function recordAndSnapshot(reportSuccess: boolean) {
  const dir = tempDir();
  const spool = await Spool.open({ dir: join(dir, 'spool'), maxBytes: 64 << 20, compression: 'gzip', logger: silentLogger });
  try {
    const recorder = new Recorder({
      robotId: 'sim-1', task: 'push', observationFields: SIM_FIELDS, joints: ['x', 'y'], chunkSteps: 500, chunkMs: 1e12, spool,
      camera: null, policyVersion: 'bc-1', stampOriginUnixMs: null, maxChunkBytes: 8 << 20, buffers: 16, logger: silentLogger, runId: RUN,
    });
    const judge = new ObservedSuccessJudge();
    const { loop, episodes } = await simLoop(MODEL, { episodes: 6, timeLimitS: 8, seed: 900, reportSuccess, successJudge: judge, sinks: [judge, recorder] });
    await loop.run();
    await spool.flushed();
    // Every step recorded (16 buffers of 500 steps hold the whole run, so the spool never holds the recorder up).
    assert.equal(recorder.stats.unrecordedSteps, 0);
    const store = new RolloutStore(join(dir, 'store.sqlite'));
    const ingest = new Ingest(store, { maxChunkBytes: 1 << 24, logger: silentLogger });
    const files = new SpoolDir(join(dir, 'spool'), 'none');
    const progress: number[] = [];
    for (const e of files.open().entries) {
      const bytes = files.read(e) as Uint8Array;
      const decoded = decodeRolloutChunk(bytes, { maxBytes: 1 << 24 });
      assert.ok(decoded.ok);
      progress.push(...decoded.value.columns.progress);
      assert.equal((await ingest.handle(topics.rollout('sim-1'), bytes)).outcome, 'stored');
    }
    const snapshot = join(dir, 'snapshot');
    const base = readPolicyMetadata(join(process.cwd(), 'models', 'push', 'policy.json'));
    const summary = await writeTrainingSnapshot(store, store.listEpisodes({ complete: true }), snapshot, base,
      relabelSettings({ horizon_s: 2, success_margin: 0.05, period_s: 0.02 }));
    store.close();
    const out: Record<string, Buffer | string> = {};
    for (const name of readdirSync(snapshot).sort()) {
      if (name === 'manifest.json') {
        const manifest = JSON.parse(readFileSync(join(snapshot, name), 'utf8')) as Record<string, unknown>;
        delete manifest.created; // the time the snapshot was written
        out[name] = JSON.stringify(manifest);
      } else out[name] = readFileSync(join(snapshot, name));
    }
    return { out, episodes: episodes as EpisodeSummary[], progress, summary };
  } finally {
    await spool.close(1000);
  }
}

test('learning mode: the simulator\'s success reporting on or off gives byte-identical training snapshots', async () => {
  const on = await recordAndSnapshot(true);
  const off = await recordAndSnapshot(false);
  assert.equal(on.summary.episodes, 6);
  assert.deepEqual(Object.keys(on.out), Object.keys(off.out));
  for (const name of Object.keys(on.out)) assert.deepEqual(on.out[name], off.out[name], `${name} differs`);

  // Outcomes are the learned verdict: some successes and some time-outs, whatever the simulator says.
  const outcomes = on.episodes.map((e) => e.outcome);
  assert.deepEqual(outcomes, off.episodes.map((e) => e.outcome));
  assert.ok(outcomes.includes('success') && outcomes.includes('timeout'), `outcomes ${outcomes.join(',')}`);
  // No progress column from the environment in learning mode.
  assert.ok(on.progress.length > 0 && on.progress.every((p) => Number.isNaN(p)));
  // The simulator's verdict is kept for evaluation only, beside the learned one, when it reports one.
  assert.ok(on.episodes.every((e) => e.ground_truth !== null && typeof e.ground_truth.success === 'boolean'));
  assert.ok(off.episodes.every((e) => e.ground_truth === null));
  assert.ok(on.episodes.every((e) => e.final_progress === null), 'final_progress (ground truth) stays out of the summary');
});

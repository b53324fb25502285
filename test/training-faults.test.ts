// Bad input on the trainer side: a trainer that crashes, one that hangs past its timeout, and a model that fails
// validation each fail their round with one log line and a `failed` status (published retained by the updater),
// release nothing (the robots keep their policy), and leave every stored episode in the store.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { topics } from '../src/contracts/topics.js';
import { createLogger, type LogLevel } from '../src/log.js';
import { UpdaterConfigSchema } from '../src/updater/config.js';
import { Ingest } from '../src/updater/ingest.js';
import { RolloutStore } from '../src/updater/store.js';
import { TrainingRounds, type TrainingStatus } from '../src/updater/training.js';
import { rolloutTestChunk } from './helpers/rollout-chunks.js';
import { tempDir } from './helpers/fixtures.js';

function basePolicy(dir: string): string {
  const base = join(dir, 'base');
  mkdirSync(base, { recursive: true });
  writeFileSync(join(base, 'policy.json'), JSON.stringify({
    format: 'striatum.policy/v1', name: 'base', version: 'v1', task: 'push', model: 'policy.onnx',
    inputs: [{ name: 'observation', shape: [-1, 3], dtype: 'float32' }], outputs: [{ name: 'action', shape: [-1, 1, 2], dtype: 'float32' }],
    observation: { fields: [{ name: 'o', size: 3 }] }, action: { mode: 'velocity', joints: ['x', 'y'], chunk: 1 },
  }));
  return base;
}

async function failingRound(trainerSource: string, options: { timeoutS?: number; onModelReady?: () => void } = {}) {
  const dir = tempDir();
  const trainer = join(dir, 'trainer.py');
  writeFileSync(trainer, trainerSource);
  const store = new RolloutStore(join(dir, 'episodes.sqlite'));
  const ingest = new Ingest(store, { maxChunkBytes: 1 << 22, logger: createLogger({ level: 'error', sink: { pretty: false, write: () => {} } }) });
  for (let e = 0; e < 2; e++) assert.equal((await ingest.handle(topics.rollout('arm-1'), rolloutTestChunk(e, 0, 0, 20, 'success'))).outcome, 'stored');
  const cfg = UpdaterConfigSchema.parse({
    store: { path: ':memory:' },
    training: { enabled: true, episodes_per_round: 2, min_steps: 10, base_policy_dir: basePolicy(dir), out_dir: join(dir, 'rounds'), trainer, timeout_s: options.timeoutS ?? 60 },
  }).training!;
  const lines: { level: LogLevel; msg: string }[] = [];
  const logger = createLogger({ level: 'info', sink: { pretty: false, write: (line: string) => { const r = JSON.parse(line); lines.push({ level: r.level, msg: r.msg }); } } });
  const statuses: TrainingStatus[] = [];
  const released: string[] = [];
  const rounds = new TrainingRounds(store, cfg, logger, {
    onStatus: (s) => statuses.push({ ...s }),
    onModelReady: (d) => { options.onModelReady?.(); released.push(d); },
  }, null);
  const result = await rounds.runRound();
  const stored = store.listEpisodes({ complete: true }).length;
  store.close();
  return { result, lines, statuses, released, stored, rounds };
}

function assertFailedCleanly(r: Awaited<ReturnType<typeof failingRound>>, error: RegExp): void {
  assert.equal(r.result.outcome, 'failed');
  if (r.result.outcome === 'failed') assert.match(r.result.error, error);
  const errors = r.lines.filter((l) => l.level === 'error');
  assert.equal(errors.length, 1, `one error line: ${JSON.stringify(errors)}`);
  assert.match(errors[0].msg, /training round failed/);
  const last = r.statuses[r.statuses.length - 1];
  assert.equal(last.state, 'failed');
  assert.equal(last.rounds_failed, 1);
  assert.equal(last.rounds_ok, 0);
  assert.match(last.last_error ?? '', error);
  assert.equal(r.rounds.state.last_model, null, 'nothing new for the robots: they keep their policy');
  assert.equal(r.stored, 2, 'every stored episode is still in the store');
}

test('a trainer that crashes fails its round in one line, and the store keeps its episodes', async () => {
  const r = await failingRound('import sys\nprint("boom: the trainer fell over", file=sys.stderr)\nsys.exit(3)\n');
  assertFailedCleanly(r, /status 3: boom: the trainer fell over/);
  assert.deepEqual(r.released, []);
});

test('a trainer that hangs is killed at training.timeout_s and its round fails', { timeout: 60_000 }, async () => {
  const r = await failingRound('import time\nwhile True:\n    time.sleep(1)\n', { timeoutS: 1 });
  assertFailedCleanly(r, /SIGKILL/);
  assert.deepEqual(r.released, []);
});

test('a model that fails validation (release refused) fails its round and is not recorded as released', async () => {
  // The trainer "succeeds" but writes a model whose hash does not match its metadata.
  const trainer = `import json, sys, pathlib
out = pathlib.Path(sys.argv[sys.argv.index("--out") + 1]); out.mkdir(parents=True)
(out / "policy.onnx").write_bytes(b"not onnx")
meta = json.loads(pathlib.Path(sys.argv[sys.argv.index("--base") + 1], "policy.json").read_text())
meta["version"] = "bad-1"; meta["sha256"] = "0" * 64
(out / "policy.json").write_text(json.dumps(meta))
print(json.dumps({"event": "done"}))
`;
  const r = await failingRound(trainer);
  assertFailedCleanly(r, /refused: .*sha256/);
  assert.deepEqual(r.released, [], 'never handed to the release');
  let called = false;
  const refused = await failingRound(trainer.replace('meta["sha256"] = "0" * 64', 'import hashlib; meta["sha256"] = hashlib.sha256(b"not onnx").hexdigest()'), {
    onModelReady: () => { called = true; throw new Error('release validation: model does not load'); },
  });
  assert.equal(called, true);
  assertFailedCleanly(refused, /release validation: model does not load/);
});

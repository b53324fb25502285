// bench/learning: one full learning run of `striatum learn` and, in the same invocation, its baselines:
//   learned        the configured run (rewards from the PRMs only)
//   oracle         the same learner fed the simulator's ground-truth progress and success (training.reward_source:
//                  simulator): how close the learned rewards come to it
//   no-exploration the same loop with exploration off (the robots run the mean): what exploration buys
// Each variant is its own run folder and its own training seeds (run numbers r, r+1, r+2); evaluation seeds are the
// same held-out ones. Prints one JSON object: per variant, episodes and wall time to the target, the success
// curve, the best point. Not part of CI (a run takes up to time_limit_min; CI runs test/learn-smoke.test.ts).
//   node dist/bench/learning.js [--config examples/learn.yaml] [--out data/bench-learning] [--variants learned,oracle,no-exploration]
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml, stringify } from 'yaml';
import type { LearningCurve } from '../src/learn/curve.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const VARIANTS: Record<string, (c: Record<string, any>) => Record<string, any>> = {
  learned: (c) => c,
  oracle: (c) => ({ ...c, run: (c.run ?? 0) + 1, training: { ...c.training, reward_source: 'simulator' } }),
  'no-exploration': (c) => ({ ...c, run: (c.run ?? 0) + 2, exploration: { ...c.exploration, enabled: false } }),
};

function runLearn(config: string, out: string): Promise<number | null> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, '--log-level', 'warn', 'learn', '--config', config, '--out', out], { stdio: ['ignore', 'ignore', 'inherit'] });
    const stop = () => child.kill('SIGINT');
    process.once('SIGINT', stop);
    child.on('close', (code) => { process.off('SIGINT', stop); done(code); });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string' }, out: { type: 'string' }, variants: { type: 'string' } } });
  const configPath = resolve(values.config ?? 'examples/learn.yaml');
  const out = resolve(values.out ?? 'data/bench-learning');
  const raw = parseYaml(readFileSync(configPath, 'utf8')) as Record<string, any>;
  // Paths in the config are relative to it: make them absolute before writing the variants elsewhere.
  for (const key of ['robot_template', 'base_policy_dir']) raw[key] = resolve(dirname(configPath), raw[key]);
  const names = (values.variants ?? 'learned,oracle,no-exploration').split(',');
  const results: Record<string, unknown> = {};
  mkdirSync(out, { recursive: true });
  for (const name of names) {
    const variant = VARIANTS[name];
    if (variant === undefined) throw new Error(`unknown variant ${name}; choose from ${Object.keys(VARIANTS).join(', ')}`);
    const file = join(out, `${name}.yaml`);
    writeFileSync(file, stringify({ ...variant(raw), out_dir: join(out, name) }));
    const code = await runLearn(file, join(out, name));
    let curve: LearningCurve | null = null;
    try { curve = JSON.parse(readFileSync(join(out, name, 'learning-curve.json'), 'utf8')) as LearningCurve; } catch { /* reported below */ }
    results[name] = curve === null ? { exit: code, error: 'no learning-curve.json' } : {
      exit: code, stopped: curve.stopped, reached: curve.reached, best: curve.best, training_episodes: curve.training_episodes,
      wall_s: curve.wall_s, curve: curve.points.map((p) => [p.episodes, p.success_rate]), seeds: curve.seeds,
    };
  }
  process.stdout.write(`${JSON.stringify({ bench: 'learning', config: configPath, target: raw.target_success ?? 0.9, variants: results }, null, 2)}\n`);
}

main().catch((err: unknown) => { process.stderr.write(`bench/learning: ${(err as Error).message}\n`); process.exit(1); });

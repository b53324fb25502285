// bench/learning: one full learning run of `striatum learn` and, in the same invocation, its baselines:
//   learned        the configured run (rewards from the PRMs only)
//   oracle         the same learner fed the simulator's ground-truth progress and success (training.reward_source:
//                  simulator): how close the learned rewards come to it
//   no-exploration the same loop with exploration off (the robots run the mean): what exploration buys
// Each variant is its own run folder with the same run number, so the comparison is paired: the same training
// seeds and learner seed, only the reward or the exploration differs; evaluation seeds are the same held-out ones. Prints one JSON object: per variant, episodes and wall time to the target, the success
// curve, the best point. Not part of CI (a run takes up to time_limit_min; CI runs test/learn-smoke.test.ts).
// With --runs 0,1,2 every variant runs once per run number (independent seeds for everything); the JSON then
// gives each run's curve and the spread of the final and best held-out success. Writes curves.svg beside them.
// Usage: node dist/bench/learning.js [--config examples/learn.yaml] [--out data/bench-learning] [--variants learned,oracle,no-exploration] [--runs 0]
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify } from 'yaml';
import { curvesSvg, type CurvePoint, type LearningCurve } from '../src/learn/curve.js';
import { benchArgs } from './bench-args.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const VARIANTS: Record<string, (c: Record<string, any>) => Record<string, any>> = {
  learned: (c) => c,
  oracle: (c) => ({ ...c, training: { ...c.training, reward_source: 'simulator' } }),
  'no-exploration': (c) => ({ ...c, exploration: { ...c.exploration, enabled: false } }),
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
  const values = benchArgs(import.meta.url, { config: { type: 'string' }, out: { type: 'string' }, variants: { type: 'string' }, runs: { type: 'string' } });
  const configPath = resolve(values.config ?? 'examples/learn.yaml');
  const out = resolve(values.out ?? 'data/bench-learning');
  const raw = parseYaml(readFileSync(configPath, 'utf8')) as Record<string, any>;
  // Paths in the config are relative to it: make them absolute before writing the variants elsewhere.
  for (const key of ['robot_template', 'base_policy_dir']) raw[key] = resolve(dirname(configPath), raw[key]);
  const names = (values.variants ?? 'learned,oracle,no-exploration').split(',');
  const runs = (values.runs ?? String(raw.run ?? 0)).split(',').map(Number);
  for (const name of names) if (VARIANTS[name] === undefined) throw new Error(`unknown variant ${name}; choose from ${Object.keys(VARIANTS).join(', ')}`);
  const results: Record<string, unknown> = {};
  const series: { label: string; points: CurvePoint[] }[] = [];
  mkdirSync(out, { recursive: true });
  for (const name of names) {
    const finals: number[] = [];
    const bests: number[] = [];
    const perRun: Record<string, unknown> = {};
    for (const run of runs) {
      const id = runs.length > 1 ? `${name}-run${run}` : name;
      const file = join(out, `${id}.yaml`);
      writeFileSync(file, stringify({ ...(VARIANTS[name] as (c: Record<string, any>) => Record<string, any>)({ ...raw, run }), out_dir: join(out, id) }));
      const code = await runLearn(file, join(out, id));
      let curve: LearningCurve | null = null;
      try { curve = JSON.parse(readFileSync(join(out, id, 'learning-curve.json'), 'utf8')) as LearningCurve; } catch { /* reported below */ }
      if (curve === null) { perRun[`run${run}`] = { exit: code, error: 'no learning-curve.json' }; continue; }
      const last = curve.points[curve.points.length - 1];
      if (last !== undefined) finals.push(last.success_rate);
      if (curve.best !== null) bests.push(curve.best.success_rate);
      series.push({ label: `${name}, run ${run}`, points: curve.points });
      perRun[`run${run}`] = {
        exit: code, stopped: curve.stopped, reached: curve.reached, best: curve.best, final: last ?? null, training_episodes: curve.training_episodes,
        wall_s: curve.wall_s, curve: curve.points.map((p) => [p.episodes, p.success_rate]), seeds: curve.seeds,
      };
    }
    results[name] = { runs: perRun, final_success: spread(finals), best_success: spread(bests) };
  }
  writeFileSync(join(out, 'curves.svg'), curvesSvg(series, { target: raw.target_success ?? 0.9, budget: raw.episode_budget ?? 100, title: 'held-out success vs training episodes' }));
  process.stdout.write(`${JSON.stringify({ bench: 'learning', config: configPath, target: raw.target_success ?? 0.9, runs, variants: results, plot: join(out, 'curves.svg') }, null, 2)}\n`);
}

function spread(xs: readonly number[]): { n: number; mean: number | null; min: number | null; max: number | null } {
  if (xs.length === 0) return { n: 0, mean: null, min: null, max: null };
  return { n: xs.length, mean: xs.reduce((a, b) => a + b, 0) / xs.length, min: Math.min(...xs), max: Math.max(...xs) };
}

main().catch((err: unknown) => { process.stderr.write(`bench/learning: ${(err as Error).message}\n`); process.exit(1); });

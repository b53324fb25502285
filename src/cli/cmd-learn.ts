import type { Logger } from '../log.js';
import { loadLearnConfig } from '../learn/config.js';
import { LearnRun } from '../learn/learn-run.js';
import type { Command } from './flags.js';
import { parseFlags } from './flags.js';

export const learnCommand: Command = {
  summary: 'run the closed learning loop: simulated robots, learned rewards, training, signed releases, held-out evaluation',
  help: `Usage: striatum learn --config FILE [--out DIR]

Starts an embedded broker, the updater (store, training rounds, signed release), records the demonstrations
through the reward models, runs the configured number of simulated robots in virtual time (separate processes,
own robot ids and seeds, exploring) and evaluates every released policy on held-out seeds (mean action, not
stored as experience). Shows a progress bar (episodes, round, success); stops at the target success rate, the
episode budget or the time limit, and writes OUT/learning-curve.json and OUT/learning-curve.svg.

  --config FILE   learning run config (examples/learn.yaml)
  --out DIR       write here instead of out_dir (must be new or empty)

Ctrl-C stops cleanly: robots finish their tick and keep their spool, the store keeps every stored episode, and
the curve so far is written; a second Ctrl-C exits at once.`,
  async run(args, logger: Logger) {
    const { values } = parseFlags(args, { config: { type: 'string' }, out: { type: 'string' } });
    const loaded = loadLearnConfig(values.config ?? 'examples/learn.yaml');
    if (values.out !== undefined) loaded.config.out_dir = values.out.startsWith('/') ? values.out : `${process.cwd()}/${values.out}`;
    const run = new LearnRun({ loaded, logger: logger.child('learn'), progress: process.stderr.isTTY ? process.stderr : null });
    let stops = 0;
    const onSignal = (signal: string) => () => {
      stops++;
      if (stops > 1) { logger.warn('second stop signal: exiting now'); process.exit(130); }
      logger.info('stop requested', { signal });
      run.stop(`signal ${signal}`);
    };
    const sigint = onSignal('SIGINT');
    const sigterm = onSignal('SIGTERM');
    process.on('SIGINT', sigint);
    process.on('SIGTERM', sigterm);
    try {
      const curve = await run.run();
      process.stdout.write(`${JSON.stringify({ out: run.outDir, stopped: curve.stopped, training_episodes: curve.training_episodes, wall_s: curve.wall_s, reached: curve.reached, best: curve.best, points: curve.points.length })}\n`);
    } finally {
      process.off('SIGINT', sigint);
      process.off('SIGTERM', sigterm);
    }
    return 0;
  },
};

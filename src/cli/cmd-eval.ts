import { resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import type { Logger } from '../log.js';
import { RobotRuntime } from '../runtime/robot-runtime.js';
import type { Command } from './flags.js';
import { intFlag, parseFlags } from './flags.js';
import { DEFAULT_CONFIG } from './default-config.js';
import { Progress } from './progress.js';

export const evalCommand: Command = {
  summary: 'evaluate the configured policy over seeded simulator episodes (success rate)',
  help: `Usage: striatum eval [--config FILE] [--model FILE] [--episodes N] [--seed S]

Runs the configured policy faster than real time over N seeded episodes (default 100) without MQTT and prints
one JSON line: episodes, successes, success_rate, mean steps, policy name and version.

  --model FILE   evaluate this ONNX policy (its metadata: the same path with .json) in place of policy.model,
                 e.g. a freshly trained data/push-bc/policy.onnx`,
  async run(args, logger: Logger) {
    const { values } = parseFlags(args, { config: { type: 'string' }, model: { type: 'string' }, episodes: { type: 'string' }, seed: { type: 'string' } });
    const loaded = loadConfig(values.config ?? DEFAULT_CONFIG);
    if (values.model !== undefined) {
      loaded.config.policy.model = resolve(values.model);
      loaded.config.policy.metadata = undefined;
    }
    const seed = intFlag('seed', values.seed, 0);
    if (seed !== undefined) loaded.config.episodes.seed = seed;
    const episodes = intFlag('episodes', values.episodes, 1) ?? 100;
    const progress = new Progress('evaluating', episodes, logger);
    let successes = 0;
    let steps = 0;
    const runtime = await RobotRuntime.start({
      loaded, logger: logger.child('eval'), mqtt: false, realtime: false, episodes,
      onEpisode: (s, event) => {
        if (event !== 'end') return;
        if (s.success) successes++;
        steps += s.steps;
        progress.tick(`success ${successes}`);
      },
    });
    const status = runtime.status(true, 'eval');
    try {
      await runtime.run();
    } finally {
      await runtime.shutdown('evaluation done');
    }
    process.stdout.write(`${JSON.stringify({
      episodes, successes, success_rate: successes / episodes, mean_steps: steps / episodes,
      first_seed: loaded.config.episodes.seed, policy: status.policy,
    })}\n`);
    return 0;
  },
};

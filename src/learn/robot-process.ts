// One simulated robot of `striatum learn`, as its own process: the robot template config with the learning run's
// overrides (robot id, broker login, policy and trusted key, spool, seeds, exploration) applied in memory, run in
// virtual time for a number of episodes. With --source expert it runs the simulator's scripted expert instead of
// the policy (the demonstrations, recorded through the same reward models). SIGTERM / SIGINT stop it cleanly.
//   node dist/src/learn/robot-process.js --template FILE --overrides JSON_FILE --episodes N [--source expert]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ScriptedSource } from '../cli/cmd-record.js';
import { createLogger } from '../log.js';
import { loadWithOverrides } from './overrides.js';
import { RobotRuntime } from '../runtime/robot-runtime.js';
import type { SimTransport } from '../transports/sim/sim-transport.js';

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { template: { type: 'string' }, overrides: { type: 'string' }, episodes: { type: 'string' }, source: { type: 'string' } } });
  const logger = createLogger({ pretty: false });
  const overrides = JSON.parse(readFileSync(values.overrides as string, 'utf8')) as Record<string, unknown>;
  const loaded = loadWithOverrides(values.template as string, overrides);
  const expert = values.source === 'expert';
  const runtime = await RobotRuntime.start({
    loaded, logger, mqtt: true, realtime: false, episodes: Number(values.episodes),
    source: expert ? (t) => new ScriptedSource('expert', t as SimTransport, loaded.config.control.rate_hz) : undefined,
  });
  const stop = (signal: string) => () => runtime.loop?.stop(`signal ${signal}`);
  process.on('SIGTERM', stop('SIGTERM'));
  process.on('SIGINT', stop('SIGINT'));
  let reason = 'stopped';
  try {
    reason = await runtime.run();
  } finally {
    await runtime.shutdown(reason);
  }
  return 0;
}

main().then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`robot process failed: ${(err as Error).message ?? String(err)}\n`);
  process.exit(1);
});

import { loadConfig, type LoadedConfig } from '../config/load.js';
import { RobotConfigSchema, Ros2TransportSchema } from '../config/schema.js';
import { StriatumError } from '../errors.js';
import { assertPreflight } from '../config/preflight.js';
import type { Logger } from '../log.js';
import { RobotRuntime } from '../runtime/robot-runtime.js';
import type { Command } from './flags.js';
import { intFlag, numberFlag, parseFlags } from './flags.js';
import { DEFAULT_CONFIG } from './default-config.js';
import { logStartUpHints } from './start-up-hints.js';

/** --robot-id and --ros-namespace (what ROS 2 launch files pass), checked like the config fields they replace. */
function applyLaunchOverrides(loaded: LoadedConfig, robotId: string | undefined, namespace: string | undefined): LoadedConfig {
  const cfg = loaded.config;
  if (robotId !== undefined && robotId !== '') {
    const parsed = RobotConfigSchema.shape.robot.shape.id.safeParse(robotId);
    if (!parsed.success) throw new StriatumError('STRIATUM_ERR_USAGE', `--robot-id: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    cfg.robot.id = parsed.data;
  }
  if (namespace !== undefined && namespace !== '') {
    if (cfg.transport.kind !== 'ros2') throw new StriatumError('STRIATUM_ERR_USAGE', `--ros-namespace applies to transport.kind ros2, the config has ${cfg.transport.kind}`);
    const parsed = Ros2TransportSchema.shape.namespace.safeParse(namespace);
    if (!parsed.success) throw new StriatumError('STRIATUM_ERR_USAGE', `--ros-namespace: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    cfg.transport.namespace = parsed.data;
  }
  return loaded;
}

export const runCommand: Command = {
  summary: 'run the robot: policy at a fixed rate, safety, telemetry over MQTT',
  help: `Usage: striatum run [--config FILE] [--episodes N] [--duration SECONDS] [--fast] [--robot-id ID] [--ros-namespace NS]

Starts the configured robot (default: the shipped simulated pusher, examples/sim.yaml), the embedded MQTT
broker when mqtt.broker is "embedded", loads and warms up the policy, and runs the control loop.

  --config FILE      robot config (YAML)
  --episodes N       stop after N episodes
  --duration S       stop after S seconds
  --fast             run the simulator faster than real time (ignores control.realtime)
  --robot-id ID      use this robot.id instead of the config's (empty: the config's), as ROS 2 launch files pass it
  --ros-namespace NS use this transport.namespace for transport.kind ros2 (empty: the config's), e.g. /arm1

Signals: Ctrl-C / SIGTERM stop cleanly (motors to the safe state first, broker last);
SIGUSR1 triggers an e-stop (latched until an "arm" command).`,
  async run(args, logger: Logger) {
    const { values } = parseFlags(args, {
      config: { type: 'string' }, episodes: { type: 'string' }, duration: { type: 'string' }, fast: { type: 'boolean' },
      'robot-id': { type: 'string' }, 'ros-namespace': { type: 'string' },
    });
    const file = values.config ?? DEFAULT_CONFIG;
    const loaded = applyLaunchOverrides(loadConfig(file), values['robot-id'], values['ros-namespace']);
    // Files the config names (model, metadata, PRMs, keys, simulator, spool) are checked before anything starts,
    // so a missing one is a config error naming its field, as `striatum config check` reports it.
    await assertPreflight(loaded, loaded.path);
    logger.info('config loaded', { file: loaded.path, robot: loaded.config.robot.id });
    const runtime = await RobotRuntime.start({
      loaded, logger, mqtt: true,
      realtime: values.fast ? false : undefined,
      episodes: intFlag('episodes', values.episodes, 1),
    });
    logStartUpHints(runtime, loaded, logger);
    const duration = numberFlag('duration', values.duration, 0);
    const loop = runtime.loop!;
    let firstStopMs = -1;
    const onStop = (signal: string) => () => {
      // `timeout` and some supervisors signal the process and its group: one stop can arrive twice at once.
      if (firstStopMs >= 0 && Date.now() - firstStopMs < 250) return;
      if (firstStopMs >= 0) { logger.warn('second stop signal: exiting now'); process.exit(130); }
      firstStopMs = Date.now();
      logger.info('stop requested', { signal });
      loop.stop(`signal ${signal}`);
    };
    const onEstop = () => { loop.handleCommand('estop', 'signal SIGUSR1'); };
    const sigint = onStop('SIGINT');
    const sigterm = onStop('SIGTERM');
    process.on('SIGINT', sigint);
    process.on('SIGTERM', sigterm);
    process.on('SIGUSR1', onEstop);
    const timer = duration !== undefined ? setTimeout(() => loop.stop(`duration ${duration}s reached`), duration * 1000) : null;
    let reason = 'stopped';
    try {
      reason = await runtime.run();
    } finally {
      if (timer) clearTimeout(timer);
      await runtime.shutdown(reason);
      process.off('SIGINT', sigint);
      process.off('SIGTERM', sigterm);
      process.off('SIGUSR1', onEstop);
    }
    return 0;
  },
};

// Creates the configured robot transport. Drivers with heavy or optional dependencies are imported lazily.
import type { RobotConfig } from '../config/schema.js';
import { StriatumError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RobotTransport } from '../transports/types.js';

export async function createTransport(cfg: RobotConfig, log: Logger): Promise<RobotTransport> {
  const t = cfg.transport;
  switch (t.kind) {
    case 'sim': {
      const { SimTransport } = await import('../transports/sim/sim-transport.js');
      return new SimTransport({
        seed: cfg.episodes.seed,
        controlHz: cfg.control.rate_hz,
        timeLimitS: t.time_limit_s,
        cameras: t.cameras,
        mode: cfg.action.mode,
        stateNoiseStd: t.state_noise_std,
        successTailS: t.success_tail_s,
      });
    }
    case 'serial': {
      const { SerialTransport, AUTO_SIM_PATH } = await import('../transports/serial/serial-transport.js');
      // The simulator gets the configured robot: one limits entry per joint (pos_min:pos_max:vel_max:effort_max).
      const simulatorArgs = t.path === AUTO_SIM_PATH
        ? ['--joints', String(cfg.joints.length), '--limits', cfg.joints.map((j) => `${j.position.min}:${j.position.max}:${j.velocity}:${j.effort}`).join(','), ...t.simulator_args]
        : [];
      return new SerialTransport({
        path: t.path,
        baud: t.baud,
        jointNames: cfg.joints.map((j) => j.name),
        controlHz: cfg.control.rate_hz,
        handshakeTimeoutMs: t.handshake_timeout_ms,
        linkTimeoutMs: t.link_timeout_ms,
        watchdogMs: t.watchdog_ms,
        safeMode: t.safe_mode,
        reconnectInitialMs: t.reconnect.initial_ms,
        reconnectMaxMs: t.reconnect.max_ms,
        simulatorArgs,
        logger: log,
      });
    }
    case 'ros2': {
      if (process.env.ROS_DISTRO === undefined) {
        throw new StriatumError('STRIATUM_ERR_ROS2_UNAVAILABLE', 'transport.kind: ros2 needs a sourced ROS 2 environment (ROS_DISTRO is not set); run `source /opt/ros/<distro>/setup.bash` first');
      }
      try {
        await import('rclnodejs' as string);
      } catch {
        throw new StriatumError('STRIATUM_ERR_ROS2_UNAVAILABLE', 'transport.kind: ros2 needs the optional rclnodejs package, built against the sourced ROS 2: run `npm install rclnodejs` with ROS 2 sourced');
      }
      log.debug('rclnodejs found', { ros_distro: process.env.ROS_DISTRO });
      throw new StriatumError('STRIATUM_ERR_ROS2_UNAVAILABLE', 'transport.kind: ros2 is not available in this build');
    }
  }
}

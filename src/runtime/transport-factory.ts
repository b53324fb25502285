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
      });
    }
    case 'serial':
      throw new StriatumError('STRIATUM_ERR_TRANSPORT', `transport.kind: serial is not available in this build (device ${t.path})`);
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

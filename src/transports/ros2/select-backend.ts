// Picks the ROS 2 backend once at start-up: `rclnodejs` or `cyclonedds` as configured, or with `auto`
// rclnodejs when ROS 2 is sourced and rclnodejs loads, else Cyclone DDS; the choice and why are logged.
import { StriatumError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Ros2Backend, Ros2BackendOptions } from './backend.js';
import { CycloneDdsBackend } from './cyclonedds-backend.js';
import { loadRclnodejs, RclnodejsBackend, type RclnodejsModule } from './rclnodejs-backend.js';

export type Ros2BackendChoice = 'auto' | 'cyclonedds' | 'rclnodejs';

export async function selectRos2Backend(
  choice: Ros2BackendChoice,
  options: Ros2BackendOptions & { readonly bridge: string | null; readonly discoveryGidBytes?: 0 | 16 | 24 },
  log: Logger,
  load: () => Promise<{ module: RclnodejsModule } | { why: string }> = loadRclnodejs,
): Promise<Ros2Backend> {
  const cyclone = () => new CycloneDdsBackend({ ...options, binary: options.bridge, logger: log });
  if (choice === 'cyclonedds') {
    log.info('ros2 backend: cyclonedds (configured)');
    return cyclone();
  }
  const rcl = await load();
  if ('module' in rcl) {
    log.info(`ros2 backend: rclnodejs (${choice === 'auto' ? 'auto: ROS 2 is sourced and rclnodejs loads' : 'configured'})`, { ros_distro: process.env.ROS_DISTRO });
    return new RclnodejsBackend(rcl.module, options);
  }
  if (choice === 'rclnodejs') {
    throw new StriatumError('STRIATUM_ERR_ROS2_UNAVAILABLE', `transport.backend: rclnodejs cannot be used: ${rcl.why}`, [
      'source ROS 2 (source /opt/ros/<distro>/setup.bash) and npm install rclnodejs, or set transport.backend: cyclonedds',
    ]);
  }
  log.info(`ros2 backend: cyclonedds (auto: ${rcl.why})`);
  return cyclone();
}

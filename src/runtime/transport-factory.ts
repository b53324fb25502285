// Creates the configured robot transport. Drivers with heavy or optional dependencies are imported lazily.
import type { RobotConfig } from '../config/schema.js';
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
      const { Ros2Transport } = await import('../transports/ros2/ros2-transport.js');
      const { selectRos2Backend } = await import('../transports/ros2/select-backend.js');
      const envDomain = Number(process.env.ROS_DOMAIN_ID);
      const domainId = t.domain_id ?? (Number.isInteger(envDomain) && envDomain >= 0 && envDomain <= 232 ? envDomain : 0);
      const backend = await selectRos2Backend(t.backend, {
        nodeName: t.node_name, namespace: t.namespace, domainId, bridge: t.bridge,
        discoveryGidBytes: t.ros_discovery_info === 'jazzy' ? 16 : t.ros_discovery_info === 'humble' ? 24 : 0,
      }, log);
      return new Ros2Transport({
        backend, robotId: cfg.robot.id, nodeName: t.node_name, namespace: t.namespace,
        jointNames: cfg.joints.map((j) => j.name), mode: cfg.action.mode, controlHz: cfg.control.rate_hz,
        linkTimeoutMs: cfg.control.link_timeout_ms, startupTimeoutMs: t.startup_timeout_ms,
        jointStatesTopic: t.joint_states_topic, commandInterface: t.command_interface, controller: t.controller,
        commandTopic: t.command_topic, estopTopic: t.estop_topic, stateTopic: t.state_topic,
        diagnosticsTopic: t.diagnostics_topic, diagnosticsHz: t.diagnostics_hz, cameras: t.cameras, qos: t.qos, logger: log,
      });
    }
  }
}

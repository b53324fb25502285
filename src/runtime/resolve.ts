// Turns a validated config and an opened transport into the flat arrays the control loop uses.
import type { RobotConfig } from '../config/schema.js';
import { DEFAULT_ACCEL_PER_VMAX, type SafetyLimits } from '../control/safety.js';
import { StriatumError } from '../errors.js';
import type { JointLimits, RobotDescription } from '../transports/types.js';

/** Joint names must match between config and robot, in order: a swapped pair would be a dangerous mistake. */
export function checkJointsAgainstRobot(cfg: RobotConfig, robot: RobotDescription): void {
  const want = cfg.joints.map((j) => j.name);
  const got = robot.jointNames;
  const problems: string[] = [];
  for (let i = 0; i < Math.max(want.length, got.length); i++) {
    if (want[i] !== got[i]) {
      problems.push(`joints[${i}].name: config says ${want[i] === undefined ? 'nothing' : `"${want[i]}"`}, robot (${robot.identity}) reports ${got[i] === undefined ? 'nothing' : `"${got[i]}"`}`);
    }
  }
  if (problems.length > 0) throw new StriatumError('STRIATUM_ERR_CONFIG', 'configured joints do not match the robot', problems);
}

function perJoint(value: number | number[] | undefined, n: number): Float64Array | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? Float64Array.from(value) : new Float64Array(n).fill(value);
}

/**
 * The safety limits: the config's, narrowed to the device's own where the device reports tighter ones (a firmware
 * that stops at ±1.5 rad must never be commanded to 3). Returns the joints where the device was tighter.
 */
export function resolveLimits(cfg: RobotConfig, device: readonly JointLimits[] | null = null, narrowed: string[] = []): SafetyLimits {
  const n = cfg.joints.length;
  const dt = 1 / cfg.control.rate_hz;
  const configured = perJoint(cfg.action.max_delta, n);
  const maxDelta = configured ?? Float64Array.from(cfg.joints.map((j) => {
    switch (cfg.action.mode) {
      case 'position': return j.velocity * dt;
      case 'velocity': return (j.acceleration ?? DEFAULT_ACCEL_PER_VMAX * j.velocity) * dt;
      case 'effort': return 2 * j.effort; // no per-tick limit beyond the range unless configured
    }
  }));
  const limits = {
    positionMin: Float64Array.from(cfg.joints.map((j) => j.position.min)),
    positionMax: Float64Array.from(cfg.joints.map((j) => j.position.max)),
    velocityMax: Float64Array.from(cfg.joints.map((j) => j.velocity)),
    effortMax: Float64Array.from(cfg.joints.map((j) => j.effort)),
    maxDelta,
  };
  if (device !== null) {
    device.forEach((d, i) => {
      if (i >= n) return;
      const before = [limits.positionMin[i], limits.positionMax[i], limits.velocityMax[i], limits.effortMax[i]].join();
      limits.positionMin[i] = Math.max(limits.positionMin[i], d.positionMin);
      limits.positionMax[i] = Math.min(limits.positionMax[i], d.positionMax);
      limits.velocityMax[i] = Math.min(limits.velocityMax[i], d.velocityMax);
      limits.effortMax[i] = Math.min(limits.effortMax[i], d.effortMax);
      if ([limits.positionMin[i], limits.positionMax[i], limits.velocityMax[i], limits.effortMax[i]].join() !== before) narrowed.push(cfg.joints[i].name);
    });
  }
  return limits;
}

export function resolveScale(cfg: RobotConfig): Float64Array {
  return perJoint(cfg.action.scale, cfg.joints.length) as Float64Array;
}

export function timeLimitOf(cfg: RobotConfig): number {
  return cfg.transport.time_limit_s;
}

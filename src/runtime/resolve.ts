// Turns a validated config and an opened transport into the flat arrays the control loop uses.
import type { RobotConfig } from '../config/schema.js';
import { DEFAULT_ACCEL_PER_VMAX, type SafetyLimits } from '../control/safety.js';
import { StriatumError } from '../errors.js';
import type { RobotDescription } from '../transports/types.js';

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

export function resolveLimits(cfg: RobotConfig): SafetyLimits {
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
  return {
    positionMin: Float64Array.from(cfg.joints.map((j) => j.position.min)),
    positionMax: Float64Array.from(cfg.joints.map((j) => j.position.max)),
    velocityMax: Float64Array.from(cfg.joints.map((j) => j.velocity)),
    effortMax: Float64Array.from(cfg.joints.map((j) => j.effort)),
    maxDelta,
  };
}

export function resolveScale(cfg: RobotConfig): Float64Array {
  return perJoint(cfg.action.scale, cfg.joints.length) as Float64Array;
}

export function timeLimitOf(cfg: RobotConfig): number {
  return cfg.transport.time_limit_s;
}

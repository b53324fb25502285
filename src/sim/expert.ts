// Privileged scripted expert for the push task: reads the true state and writes joint velocity commands (m/s).
// A function of the state alone (no memory, no step count), so it works at any control rate.

import {
  BLOCK_HALF_SIZE_M,
  JOINT_POSITION_MAX_M,
  JOINT_POSITION_MIN_M,
  JOINT_VELOCITY_MAX_M_S,
  PUSHER_RADIUS_M,
  type PushWorld,
} from './push-world.js';

/** Pusher centre to block centre when the pusher touches the middle of a face. */
const CONTACT_DISTANCE_M = BLOCK_HALF_SIZE_M + PUSHER_RADIUS_M;
/** Where the pusher lines up before a push: this far behind the block centre, on the line from the pad. */
const STAGING_DISTANCE_M = CONTACT_DISTANCE_M + 0.025;
/** Radius of the detour around the block: half-diagonal + pusher + clearance. */
const DETOUR_RADIUS_M = BLOCK_HALF_SIZE_M * Math.SQRT2 + PUSHER_RADIUS_M + 0.025;
/** Pushing is allowed while the pusher stays within this lateral offset of the block-to-pad line. */
const PUSH_LATERAL_TOLERANCE_M = 0.02;
/** The pusher counts as behind the block when its along-line coordinate is below this. */
const BEHIND_THRESHOLD_M = -(BLOCK_HALF_SIZE_M + 0.01);
const PUSH_SPEED_MAX_M_S = 0.2;
const PUSH_SPEED_MIN_M_S = 0.05;
/** Push speed per metre of remaining distance: slows the block near the pad so it does not coast past. */
const PUSH_SPEED_GAIN_PER_S = 1.5;
const LATERAL_GAIN_PER_S = 6;
const APPROACH_GAIN_PER_S = 6;
const DETOUR_SPEED_M_S = 0.22;
const DETOUR_RADIAL_GAIN_PER_S = 6;
/** Stop pushing when the block is this close to the pad centre: it coasts the rest. */
const STOP_DISTANCE_M = 0.01;

/** Write the expert's joint velocity command for the current state of `world` into out[0..1]. */
export function expertAction(world: PushWorld, out: Float64Array): void {
  const b = 2 * world.instructedBlock;
  const g = 2 * world.instructedPad;
  const bx = world.blockPositions[b];
  const by = world.blockPositions[b + 1];
  const px = world.pusherPosition[0];
  const py = world.pusherPosition[1];
  const ex = world.padPositions[g] - bx;
  const ey = world.padPositions[g + 1] - by;
  const distance = Math.hypot(ex, ey);
  if (distance < STOP_DISTANCE_M) {
    out[0] = 0;
    out[1] = 0;
    return;
  }
  // Push frame: u from block to pad, n to its left. (s, l) is the pusher relative to the block in that frame.
  const ux = ex / distance;
  const uy = ey / distance;
  const nx = -uy;
  const ny = ux;
  const rx = px - bx;
  const ry = py - by;
  const s = rx * ux + ry * uy;
  const l = rx * nx + ry * ny;

  let vx: number;
  let vy: number;
  if (s < BEHIND_THRESHOLD_M && s > -STAGING_DISTANCE_M - 0.02 && Math.abs(l) < PUSH_LATERAL_TOLERANCE_M) {
    // Lined up behind the block: push along u, and steer the lateral offset back onto the line.
    const speed = clampMagnitude(PUSH_SPEED_GAIN_PER_S * distance, PUSH_SPEED_MIN_M_S, PUSH_SPEED_MAX_M_S);
    vx = ux * speed - nx * LATERAL_GAIN_PER_S * l;
    vy = uy * speed - ny * LATERAL_GAIN_PER_S * l;
  } else if (s < -STAGING_DISTANCE_M + 0.005) {
    // Behind the block but off the line: go straight to the staging point; the block is not in the way.
    const qx = clampJoint(bx - ux * STAGING_DISTANCE_M);
    const qy = clampJoint(by - uy * STAGING_DISTANCE_M);
    vx = APPROACH_GAIN_PER_S * (qx - px);
    vy = APPROACH_GAIN_PER_S * (qy - py);
  } else {
    // Beside or in front of the block: circle around it (at DETOUR_RADIUS_M) toward its back, so the block is
    // never knocked toward the wrong side. Turn the way that reduces s; dead ahead, turn toward the free side.
    const r = Math.hypot(rx, ry) || 1e-9;
    const cx = rx / r;
    const cy = ry / r;
    // Tangent (-cy, cx) turns counter-clockwise; pick the sign whose motion has a negative u component.
    let turn = -cy * ux + cx * uy < 0 ? 1 : -1;
    if (Math.abs(l) < 0.01 && s > 0) turn = detourSideWithRoom(bx, by, nx, ny);
    const radial = DETOUR_RADIAL_GAIN_PER_S * (DETOUR_RADIUS_M - r);
    vx = turn * -cy * DETOUR_SPEED_M_S + cx * radial;
    vy = turn * cx * DETOUR_SPEED_M_S + cy * radial;
  }
  const speed = Math.hypot(vx, vy);
  if (speed > JOINT_VELOCITY_MAX_M_S) {
    vx *= JOINT_VELOCITY_MAX_M_S / speed;
    vy *= JOINT_VELOCITY_MAX_M_S / speed;
  }
  out[0] = vx;
  out[1] = vy;
}

/** +1 (counter-clockwise) or -1: the detour side whose midpoint is farther inside the workspace. */
function detourSideWithRoom(bx: number, by: number, nx: number, ny: number): number {
  const leftRoom = roomAt(bx + nx * DETOUR_RADIUS_M, by + ny * DETOUR_RADIUS_M);
  const rightRoom = roomAt(bx - nx * DETOUR_RADIUS_M, by - ny * DETOUR_RADIUS_M);
  return leftRoom >= rightRoom ? 1 : -1;
}

function roomAt(x: number, y: number): number {
  return Math.min(x - JOINT_POSITION_MIN_M, JOINT_POSITION_MAX_M - x, y - JOINT_POSITION_MIN_M, JOINT_POSITION_MAX_M - y);
}

function clampJoint(v: number): number {
  return v < JOINT_POSITION_MIN_M ? JOINT_POSITION_MIN_M : v > JOINT_POSITION_MAX_M ? JOINT_POSITION_MAX_M : v;
}

function clampMagnitude(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

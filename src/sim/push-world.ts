// The "push" task: a planar gantry pusher (joints "x" and "y", metres) pushes one of two blocks onto one of two
// pads on a 0.8 m table, seen from above. Rapier 2D, zero gravity; table friction is emulated by body damping.
// Deterministic: a fresh Rapier world per episode, a seeded layout, and no wall-clock input anywhere.

import { setFlagsFromString } from 'node:v8';
import RAPIER from '@dimforge/rapier2d-compat';
import { StriatumError } from '../errors.js';
import { SeededRng } from './rng.js';

export const TABLE_SIZE_M = 0.8;
export const PUSHER_RADIUS_M = 0.025;
export const BLOCK_HALF_SIZE_M = 0.025;
export const PAD_RADIUS_M = 0.06;
/** The instructed block counts as on the pad when its centre is this close to the pad centre. */
export const SUCCESS_RADIUS_M = 0.035;

export const JOINT_POSITION_MIN_M = 0.03;
export const JOINT_POSITION_MAX_M = 0.77;
export const JOINT_VELOCITY_MAX_M_S = 0.25;
/** Reported as the joints' effort limit; the sim does not limit force. */
export const JOINT_EFFORT_MAX_N = 20;

/** First-order lag of the joint velocity behind its command. */
export const JOINT_VELOCITY_TAU_S = 0.03;
/** Gain of the position-mode P controller (1/s); with the lag above it is close to critically damped. */
export const POSITION_GAIN_PER_S = 8;
/** Physics steps are at most this long; longer control periods are cut into equal substeps. */
export const MAX_PHYSICS_DT_S = 0.01;

export const BLOCK_COLOR_NAMES = ['red', 'blue'] as const;
export const PAD_COLOR_NAMES = ['green', 'yellow'] as const;

const BLOCK_MASS_KG = 0.2;
/** Mass used only to turn velocity changes into a reported joint effort. */
const GANTRY_MASS_KG = 2;
/** Damping rates (1/s): a block released at 0.25 m/s coasts about 2.5 cm. */
const BLOCK_LINEAR_DAMPING = 10;
const BLOCK_ANGULAR_DAMPING = 10;
const CONTACT_FRICTION = 0.4;
const WALL_THICKNESS_M = 0.05;

// Layout: blocks and pads stay well inside the workspace so the pusher can always get behind a block.
const LAYOUT_MIN_M = 0.14;
const LAYOUT_MAX_M = TABLE_SIZE_M - LAYOUT_MIN_M;
const MIN_BLOCK_SEPARATION_M = 0.15;
const MIN_PAD_SEPARATION_M = 0.2;
const MIN_BLOCK_PAD_SEPARATION_M = 0.15;
const MIN_INSTRUCTED_DISTANCE_M = 0.2;
const MIN_PUSHER_BLOCK_SEPARATION_M = 0.1;
const PUSHER_START_MIN_M = 0.08;
const LAYOUT_MAX_TRIES = 10000;

const MODE_VELOCITY = 0;
const MODE_POSITION = 1;

const INSTRUCTIONS: readonly (readonly string[])[] = BLOCK_COLOR_NAMES.map((block) =>
  PAD_COLOR_NAMES.map((pad) => `push the ${block} block onto the ${pad} pad`),
);

let rapierReady: Promise<void> | null = null;
let rapierInitialised = false;

/** Load Rapier's WebAssembly once per process; every later call returns the same promise. */
export function initPhysics(): Promise<void> {
  if (rapierReady === null) {
    // V8 compiles WebAssembly lazily, a function at its first call: Rapier's first step, first contact and so on
    // would each stall a real-time loop for up to a second (a deadline storm). Compile all of it here instead.
    setFlagsFromString('--no-wasm-lazy-compilation');
    rapierReady = RAPIER.init().then(() => {
      rapierInitialised = true;
    });
  }
  return rapierReady;
}

export function rapierVersion(): string {
  return rapierInitialised ? RAPIER.version() : 'uninitialised';
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

export class PushWorld {
  /** Joint state, [x, y]: the pusher centre (m), its velocity (m/s) and the reported effort (N). */
  readonly pusherPosition = new Float64Array(2);
  readonly pusherVelocity = new Float64Array(2);
  readonly pusherEffort = new Float64Array(2);
  /** The command as last set: velocities (m/s) in velocity mode, positions (m) in position mode. */
  readonly commandTargets = new Float64Array(2);
  /** Blocks in colour order (red, blue): [x0, y0, x1, y1], angles (rad), velocities [vx0, vy0, vx1, vy1]. */
  readonly blockPositions = new Float64Array(4);
  readonly blockAngles = new Float64Array(2);
  readonly blockVelocities = new Float64Array(4);
  /** Pad centres in colour order (green, yellow): [x0, y0, x1, y1]. */
  readonly padPositions = new Float64Array(4);

  seed = 0;
  /** Index into BLOCK_COLOR_NAMES / PAD_COLOR_NAMES of the block and pad the instruction names. */
  instructedBlock = 0;
  instructedPad = 0;
  instruction = '';
  /** Simulated time since reset (s). */
  timeS = 0;
  stepCount = 0;
  /** Block-to-pad distance at reset, the denominator of progress(). */
  initialDistance = 1;

  private world: RAPIER.World | null = null;
  private pusherBody: RAPIER.RigidBody | null = null;
  private readonly blockBodies: RAPIER.RigidBody[] = [];
  private readonly rng = new SeededRng(0);
  private commandMode = MODE_VELOCITY;
  // Reused so that step() hands Rapier no fresh objects.
  private readonly scratchVector = new RAPIER.Vector2(0, 0);
  /** The world's gravity (none: a table seen from above) as Rapier's wasm vector, made once. */
  private readonly rawGravity = RAPIER.VectorOps.intoRaw(new RAPIER.Vector2(0, 0));
  private physicsDtS = 0;
  private velocityBlend = 0;

  /** Build the world for `seed`. Rapier must be initialised first: use PushWorld.create(), or await initPhysics(). */
  constructor(seed: number) {
    if (!rapierInitialised) {
      throw new StriatumError('STRIATUM_ERR_INTERNAL', 'PushWorld built before Rapier was initialised: await initPhysics() first');
    }
    this.reset(seed);
  }

  static async create(seed: number): Promise<PushWorld> {
    await initPhysics();
    return new PushWorld(seed);
  }

  /** Start a new episode: a fresh Rapier world and a new seeded layout. */
  reset(seed: number): void {
    this.free();
    this.seed = seed;
    this.rng.reseed(seed);
    this.sampleLayout();

    // A fresh world per episode: Rapier's state (contact caches, warm starts, body order) then depends on the
    // seed alone, which is what makes trajectories bit-identical across resets in one process.
    const world = new RAPIER.World(new RAPIER.Vector2(0, 0));
    world.lengthUnit = 0.1; // objects are centimetres, not metres: scale Rapier's tolerances down
    this.world = world;
    this.physicsDtS = 0;

    const walls = world.createRigidBody(RAPIER.RigidBodyDesc.fixed());
    const half = TABLE_SIZE_M / 2;
    const t = WALL_THICKNESS_M / 2;
    const long = half + WALL_THICKNESS_M;
    world.createCollider(RAPIER.ColliderDesc.cuboid(long, t).setTranslation(half, -t).setFriction(CONTACT_FRICTION), walls);
    world.createCollider(RAPIER.ColliderDesc.cuboid(long, t).setTranslation(half, TABLE_SIZE_M + t).setFriction(CONTACT_FRICTION), walls);
    world.createCollider(RAPIER.ColliderDesc.cuboid(t, long).setTranslation(-t, half).setFriction(CONTACT_FRICTION), walls);
    world.createCollider(RAPIER.ColliderDesc.cuboid(t, long).setTranslation(TABLE_SIZE_M + t, half).setFriction(CONTACT_FRICTION), walls);

    const pusher = world.createRigidBody(
      RAPIER.RigidBodyDesc.kinematicPositionBased().setTranslation(this.pusherPosition[0], this.pusherPosition[1]),
    );
    world.createCollider(RAPIER.ColliderDesc.ball(PUSHER_RADIUS_M).setFriction(CONTACT_FRICTION), pusher);
    this.pusherBody = pusher;

    const side = 2 * BLOCK_HALF_SIZE_M;
    this.blockBodies.length = 0;
    for (let i = 0; i < 2; i++) {
      const body = world.createRigidBody(
        RAPIER.RigidBodyDesc.dynamic()
          .setTranslation(this.blockPositions[2 * i], this.blockPositions[2 * i + 1])
          .setRotation(this.blockAngles[i])
          .setLinearDamping(BLOCK_LINEAR_DAMPING)
          .setAngularDamping(BLOCK_ANGULAR_DAMPING)
          .setCanSleep(false),
      );
      world.createCollider(
        RAPIER.ColliderDesc.cuboid(BLOCK_HALF_SIZE_M, BLOCK_HALF_SIZE_M)
          .setDensity(BLOCK_MASS_KG / (side * side))
          .setFriction(CONTACT_FRICTION)
          .setRestitution(0),
        body,
      );
      this.blockBodies.push(body);
    }

    this.pusherVelocity.fill(0);
    this.pusherEffort.fill(0);
    this.commandTargets.fill(0);
    this.commandMode = MODE_VELOCITY;
    this.timeS = 0;
    this.stepCount = 0;
    this.readBodies();
    this.initialDistance = this.blockToPadDistance();
  }

  /** Command joint velocities (m/s); clamped to the velocity limit when applied. */
  setVelocityCommand(vx: number, vy: number): void {
    this.commandMode = MODE_VELOCITY;
    this.commandTargets[0] = vx;
    this.commandTargets[1] = vy;
  }

  /** Command joint positions (m); a P controller turns them into clamped velocities. */
  setPositionCommand(x: number, y: number): void {
    this.commandMode = MODE_POSITION;
    this.commandTargets[0] = x;
    this.commandTargets[1] = y;
  }

  /** Advance simulated time by dtS with the current command, in physics substeps of at most 10 ms. */
  step(dtS: number): void {
    const world = this.world;
    const pusher = this.pusherBody;
    if (world === null || pusher === null || !(dtS > 0)) return;
    const substeps = Math.max(1, Math.ceil(dtS / MAX_PHYSICS_DT_S - 1e-9));
    const h = dtS / substeps;
    if (h !== this.physicsDtS) {
      this.physicsDtS = h;
      world.timestep = h;
      this.velocityBlend = 1 - Math.exp(-h / JOINT_VELOCITY_TAU_S);
    }
    for (let s = 0; s < substeps; s++) {
      for (let j = 0; j < 2; j++) this.advanceJoint(j, h);
      this.scratchVector.x = this.pusherPosition[0];
      this.scratchVector.y = this.pusherPosition[1];
      pusher.setNextKinematicTranslation(this.scratchVector);
      stepWithoutGarbage(world, this.rawGravity);
    }
    this.timeS += dtS;
    this.stepCount++;
    this.readBodies();
  }

  /** Distance from the instructed block's centre to the instructed pad's centre (m). */
  blockToPadDistance(): number {
    const b = 2 * this.instructedBlock;
    const p = 2 * this.instructedPad;
    return Math.hypot(this.blockPositions[b] - this.padPositions[p], this.blockPositions[b + 1] - this.padPositions[p + 1]);
  }

  isSuccess(): boolean {
    return this.blockToPadDistance() <= SUCCESS_RADIUS_M;
  }

  /** Ground-truth progress: clip(1 - d/d0, 0, 1). */
  progress(): number {
    return clamp(1 - this.blockToPadDistance() / this.initialDistance, 0, 1);
  }

  /** Release Rapier's memory; reset() builds a new world. */
  free(): void {
    if (this.world !== null) {
      this.world.free();
      this.world = null;
      this.pusherBody = null;
      this.blockBodies.length = 0;
    }
  }

  private advanceJoint(j: number, h: number): void {
    const position = this.pusherPosition[j];
    const target = this.commandTargets[j];
    let commandVelocity: number;
    if (this.commandMode === MODE_POSITION) {
      const goal = clamp(target, JOINT_POSITION_MIN_M, JOINT_POSITION_MAX_M);
      commandVelocity = POSITION_GAIN_PER_S * (goal - position);
    } else {
      commandVelocity = target;
    }
    // NaN commands (a broken policy) mean "stop", never a NaN pose.
    if (!(commandVelocity === commandVelocity)) commandVelocity = 0;
    commandVelocity = clamp(commandVelocity, -JOINT_VELOCITY_MAX_M_S, JOINT_VELOCITY_MAX_M_S);

    const previousVelocity = this.pusherVelocity[j];
    let velocity = previousVelocity + this.velocityBlend * (commandVelocity - previousVelocity);
    let next = position + velocity * h;
    if (next <= JOINT_POSITION_MIN_M) {
      next = JOINT_POSITION_MIN_M;
      if (velocity < 0) velocity = 0;
    } else if (next >= JOINT_POSITION_MAX_M) {
      next = JOINT_POSITION_MAX_M;
      if (velocity > 0) velocity = 0;
    }
    this.pusherPosition[j] = next;
    this.pusherVelocity[j] = velocity;
    this.pusherEffort[j] = clamp((GANTRY_MASS_KG * (velocity - previousVelocity)) / h, -JOINT_EFFORT_MAX_N, JOINT_EFFORT_MAX_N);
  }

  private readBodies(): void {
    const v = this.scratchVector;
    for (let i = 0; i < this.blockBodies.length; i++) {
      const body = this.blockBodies[i];
      body.translation(v);
      this.blockPositions[2 * i] = v.x;
      this.blockPositions[2 * i + 1] = v.y;
      this.blockAngles[i] = body.rotation();
      body.linvel(v);
      this.blockVelocities[2 * i] = v.x;
      this.blockVelocities[2 * i + 1] = v.y;
    }
  }

  /** Rejection-sample blocks, pads and the pusher start from the seeded stream. */
  private sampleLayout(): void {
    const rng = this.rng;
    const b = this.blockPositions;
    const p = this.padPositions;
    for (let attempt = 0; attempt < LAYOUT_MAX_TRIES; attempt++) {
      for (let k = 0; k < 4; k++) {
        b[k] = rng.uniform(LAYOUT_MIN_M, LAYOUT_MAX_M);
        p[k] = rng.uniform(LAYOUT_MIN_M, LAYOUT_MAX_M);
      }
      this.blockAngles[0] = rng.uniform(0, Math.PI / 2);
      this.blockAngles[1] = rng.uniform(0, Math.PI / 2);
      this.instructedBlock = rng.int(2);
      this.instructedPad = rng.int(2);
      this.pusherPosition[0] = rng.uniform(PUSHER_START_MIN_M, TABLE_SIZE_M - PUSHER_START_MIN_M);
      this.pusherPosition[1] = rng.uniform(PUSHER_START_MIN_M, TABLE_SIZE_M - PUSHER_START_MIN_M);
      if (this.layoutIsValid()) {
        this.instruction = INSTRUCTIONS[this.instructedBlock][this.instructedPad];
        return;
      }
    }
    throw new StriatumError('STRIATUM_ERR_INTERNAL', `no valid push layout after ${LAYOUT_MAX_TRIES} tries for seed ${this.seed}`);
  }

  private layoutIsValid(): boolean {
    const b = this.blockPositions;
    const p = this.padPositions;
    const q = this.pusherPosition;
    if (Math.hypot(b[0] - b[2], b[1] - b[3]) < MIN_BLOCK_SEPARATION_M) return false;
    if (Math.hypot(p[0] - p[2], p[1] - p[3]) < MIN_PAD_SEPARATION_M) return false;
    for (let i = 0; i < 2; i++) {
      if (Math.hypot(q[0] - b[2 * i], q[1] - b[2 * i + 1]) < MIN_PUSHER_BLOCK_SEPARATION_M) return false;
      for (let k = 0; k < 2; k++) {
        if (Math.hypot(b[2 * i] - p[2 * k], b[2 * i + 1] - p[2 * k + 1]) < MIN_BLOCK_PAD_SEPARATION_M) return false;
      }
    }
    const bi = 2 * this.instructedBlock;
    const pi = 2 * this.instructedPad;
    return Math.hypot(b[bi] - p[pi], b[bi + 1] - p[pi + 1]) >= MIN_INSTRUCTED_DISTANCE_M;
  }
}

/**
 * One physics step, as `World.step()` does it minus its per-call garbage: `World.step` converts the gravity into a
 * new wasm vector each call (an object with a finalizer) and then walks every body and collider handle through
 * JavaScript closures to map bodies created since the last step. No body is created between reset and the end of
 * an episode, so that walk finds nothing, and the gravity never changes: calling the pipeline directly gives the
 * same state, bit for bit, without the ~1 young-generation collection per 600 steps those allocations caused.
 */
function stepWithoutGarbage(world: RAPIER.World, rawGravity: ReturnType<typeof RAPIER.VectorOps.intoRaw>): void {
  world.physicsPipeline.raw.step(
    rawGravity, world.integrationParameters.raw, world.islands.raw, world.broadPhase.raw, world.narrowPhase.raw,
    world.bodies.raw, world.colliders.raw, world.softBodies.raw, world.impulseJoints.raw, world.multibodyJoints.raw,
    world.ccdSolver.raw,
  );
}

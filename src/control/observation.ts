// Builds the observation vector from named state fields. The field list is resolved once into (source, length)
// pairs; build() is a flat copy loop with no lookups by name.
import { StriatumError } from '../errors.js';
import type { JointState, RobotDescription } from '../transports/types.js';

export const JOINT_FIELDS = ['joint_positions', 'joint_velocities', 'joint_efforts'] as const;

export interface ObservationField {
  readonly name: string;
  readonly size: number;
}

/** Sizes of the configured fields on this robot; unknown names are a config error naming the field. */
export function resolveObservationFields(names: readonly string[], robot: RobotDescription): ObservationField[] {
  const n = robot.jointNames.length;
  const problems: string[] = [];
  const fields = names.map((name, i) => {
    if ((JOINT_FIELDS as readonly string[]).includes(name)) return { name, size: n };
    const size = robot.extraFields[name];
    if (size === undefined) {
      const known = [...JOINT_FIELDS, ...Object.keys(robot.extraFields)].join(', ');
      problems.push(`observation.fields[${i}]: "${name}" is not provided by this transport (it provides: ${known})`);
      return { name, size: 0 };
    }
    return { name, size };
  });
  if (problems.length > 0) throw new StriatumError('STRIATUM_ERR_CONFIG', 'observation fields do not match the robot', problems);
  return fields;
}

export class ObservationBuilder {
  readonly dim: number;
  private readonly sources: Float64Array[];
  private readonly sizes: Int32Array;

  constructor(fields: readonly ObservationField[], state: JointState) {
    this.sources = fields.map((f) => {
      if (f.name === 'joint_positions') return state.positions;
      if (f.name === 'joint_velocities') return state.velocities;
      if (f.name === 'joint_efforts') return state.efforts;
      const extra = state.extras[f.name];
      if (!extra) throw new StriatumError('STRIATUM_ERR_INTERNAL', `state has no buffer for field ${f.name}`);
      return extra;
    });
    this.sizes = Int32Array.from(fields.map((f) => f.size));
    this.dim = fields.reduce((s, f) => s + f.size, 0);
  }

  build(out: Float64Array): void {
    let o = 0;
    for (let f = 0; f < this.sources.length; f++) {
      const src = this.sources[f];
      const size = this.sizes[f];
      for (let i = 0; i < size; i++) out[o++] = src[i];
    }
  }
}

/** Allocate a JointState with buffers sized for this robot. */
export function allocateJointState(robot: RobotDescription): JointState {
  const n = robot.jointNames.length;
  const extras: Record<string, Float64Array> = {};
  for (const [name, size] of Object.entries(robot.extraFields)) extras[name] = new Float64Array(size);
  return { stampMs: 0, positions: new Float64Array(n), velocities: new Float64Array(n), efforts: new Float64Array(n), extras };
}

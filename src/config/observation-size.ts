// The observation's length, as far as it is known, so explicit normalization statistics can be checked against
// it: a joint field is one value per joint; other fields' sizes come from the transport (unknown before it opens,
// except for transports whose fields are fixed, like the simulator's).
import { JOINT_FIELDS } from '../control/observation.js';
import { StriatumError } from '../errors.js';
import type { RobotConfig } from './schema.js';

type Normalization = RobotConfig['observation']['normalization'];

/** One line per statistic whose length differs from the observation's; sizeOf gives an extra field's size or undefined. */
export function normalizationSizeProblems(
  fields: readonly string[], jointCount: number, normalization: Normalization, sizeOf: (field: string) => number | undefined,
): string[] {
  if (typeof normalization !== 'object') return [];
  let size = 0;
  let exact = true;
  const parts = fields.map((name) => {
    const n = (JOINT_FIELDS as readonly string[]).includes(name) ? jointCount : sizeOf(name);
    if (n === undefined) {
      exact = false;
      size += 1; // every field has at least one value
      return `${name} ≥ 1`;
    }
    size += n;
    return `${name} ${n}`;
  });
  const problems: string[] = [];
  for (const key of ['mean', 'std'] as const) {
    const length = normalization[key].length;
    if (exact ? length !== size : length < size) {
      problems.push(`observation.normalization.${key}: has ${length} entries but the observation has ${exact ? '' : 'at least '}${size} (${parts.join(', ')})`);
    }
  }
  return problems;
}

/** At start-up, once the transport has given every field's size: STRIATUM_ERR_CONFIG when the statistics do not fit. */
export function assertNormalizationSize(cfg: RobotConfig, fields: readonly { readonly name: string; readonly size: number }[]): void {
  const sizes = new Map(fields.map((f) => [f.name, f.size]));
  const problems = normalizationSizeProblems(cfg.observation.fields, cfg.joints.length, cfg.observation.normalization, (name) => sizes.get(name));
  if (problems.length > 0) throw new StriatumError('STRIATUM_ERR_CONFIG', 'observation normalization does not fit the observation', problems);
}

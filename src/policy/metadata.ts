// Policy model metadata (the JSON beside each policy.onnx), declared once with zod.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { StriatumError } from '../errors.js';
import { formatIssues } from '../config/load.js';

const TensorSpecSchema = z.strictObject({
  name: z.string().min(1),
  shape: z.array(z.int().min(-1)).min(1).describe('-1 marks a dynamic dimension (batch)'),
  dtype: z.literal('float32'),
});

export const PolicyMetadataSchema = z.strictObject({
  format: z.literal('striatum.policy/v1'),
  name: z.string().min(1),
  version: z.string().min(1),
  task: z.string().min(1),
  created: z.string().optional(),
  parent_version: z.string().nullable().optional(),
  model: z.string().min(1).describe('ONNX file name, relative to the metadata file'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  inputs: z.array(TensorSpecSchema).length(1, 'exactly one input tensor (the observation) is supported'),
  outputs: z.array(TensorSpecSchema).length(1, 'exactly one output tensor (the action) is supported'),
  observation: z.strictObject({
    fields: z.array(z.strictObject({ name: z.string().min(1), size: z.int().min(1) })).min(1),
    mean: z.array(z.number()).optional(),
    std: z.array(z.number().positive()).optional(),
  }),
  action: z.strictObject({
    mode: z.enum(['position', 'velocity', 'effort']),
    joints: z.array(z.string()).min(1),
    chunk: z.int().min(1),
    mean: z.array(z.number()).optional(),
    std: z.array(z.number().positive()).optional(),
  }),
  training: z.record(z.string(), z.unknown()).optional(),
});
export type PolicyMetadata = z.infer<typeof PolicyMetadataSchema>;

export function parsePolicyMetadata(raw: unknown, source: string): PolicyMetadata {
  const parsed = PolicyMetadataSchema.safeParse(raw);
  if (!parsed.success) {
    throw new StriatumError('STRIATUM_ERR_POLICY_METADATA', `policy metadata ${source} is invalid`, formatIssues(parsed.error.issues));
  }
  const m = parsed.data;
  const obsDim = m.observation.fields.reduce((s, f) => s + f.size, 0);
  const problems: string[] = [];
  if (m.observation.mean && m.observation.mean.length !== obsDim) problems.push(`observation.mean: has ${m.observation.mean.length} entries, fields add up to ${obsDim}`);
  if (m.observation.std && m.observation.std.length !== obsDim) problems.push(`observation.std: has ${m.observation.std.length} entries, fields add up to ${obsDim}`);
  const actDim = m.action.joints.length;
  if (m.action.mean && m.action.mean.length !== actDim) problems.push(`action.mean: has ${m.action.mean.length} entries for ${actDim} joints`);
  if (m.action.std && m.action.std.length !== actDim) problems.push(`action.std: has ${m.action.std.length} entries for ${actDim} joints`);
  if (problems.length > 0) throw new StriatumError('STRIATUM_ERR_POLICY_METADATA', `policy metadata ${source} is inconsistent`, problems);
  return m;
}

export function readPolicyMetadata(path: string): PolicyMetadata {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new StriatumError('STRIATUM_ERR_POLICY_METADATA', `cannot read policy metadata ${path}: ${(err as Error).message}`);
  }
  return parsePolicyMetadata(raw, path);
}

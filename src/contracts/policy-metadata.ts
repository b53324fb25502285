// Policy model metadata (the JSON beside each policy.onnx, `striatum.policy/v1`), declared once with zod. Signed
// policy manifests carry it; src/policy/metadata.ts reads and checks it.
import { z } from 'zod';

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
  outputs: z.array(TensorSpecSchema).min(1).max(2, 'one output (the action) or two (the action mean, then its log-std)')
    .describe('the action [batch, chunk, joints] (or [batch, joints] for chunk 1); an optional second output is the log standard deviation [batch, joints] of a Gaussian policy, in normalized action units, which the robot samples from in training episodes'),
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

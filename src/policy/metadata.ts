// Reading and checking policy model metadata (the JSON beside each policy.onnx); the schema is a contract
// (src/contracts/policy-metadata.ts), shared with signed policy manifests.
import { readFileSync } from 'node:fs';
import { PolicyMetadataSchema, type PolicyMetadata } from '../contracts/policy-metadata.js';
import { StriatumError } from '../errors.js';
import { formatIssues } from '../util/validation.js';

export { PolicyMetadataSchema, type PolicyMetadata } from '../contracts/policy-metadata.js';

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

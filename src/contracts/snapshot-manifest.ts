// The training snapshot's manifest.json: written by the updater (src/updater/training.ts), read by trainer/awr.py.
// Declared once here; its JSON Schema is committed as trainer/snapshot-manifest.schema.json (`npm run docs`), and
// the trainer validates every manifest against that file before it trains.
//
// Required: what a trainer reads. Optional: provenance the updater records for people (who, which policy, how).
// The arrays beside it (all rows of all episodes, each episode one contiguous run, in step order):
//   observations.npy f32[N, Σ observation_fields.size]   actions.npy f32[N, action.joints.length]
//   rewards.npy f32[N]   terminals.npy i32[N]   truncations.npy i32[N]   episode_index.npy i32[N]
//   progress.npy f32[N]  Φ′ after each step, held over steps without an answer (0 before the first)
// where N = Σ episodes[].steps and episode_index holds episodes[].index.
import { z } from 'zod';

export const SNAPSHOT_FORMAT = 'striatum.training-snapshot/v1';

export const SnapshotEpisodeSchema = z.strictObject({
  index: z.int().min(0).describe('the value of episode_index.npy on this episode\'s rows'),
  steps: z.int().min(1).describe('rows of this episode'),
  success: z.boolean().optional().describe('the episode ended in success'),
  robot: z.string().optional(),
  episode: z.string().optional().describe('episode id on the robot'),
  outcome: z.string().nullable().optional().describe('how the episode ended (success, failure, timeout, ...)'),
  policy_versions: z.array(z.string().nullable()).optional().describe('policy versions that acted in the episode'),
  unrecorded_reward_steps: z.int().min(0).optional(),
  gold_steps: z.int().min(0).optional(),
});
export type SnapshotEpisode = z.infer<typeof SnapshotEpisodeSchema>;

export const SnapshotManifestSchema = z.strictObject({
  format: z.literal(SNAPSHOT_FORMAT),
  task: z.string().min(1),
  gamma: z.number().gt(0).max(1).describe('discount per control step the rewards were shaped with'),
  observation_fields: z.array(z.strictObject({ name: z.string().min(1), size: z.int().min(1) })).min(1)
    .describe('observation layout, in column order of observations.npy'),
  action: z.strictObject({
    mode: z.enum(['position', 'velocity', 'effort']),
    joints: z.array(z.string().min(1)).min(1).describe('joint names, in column order of actions.npy'),
  }),
  episodes: z.array(SnapshotEpisodeSchema).describe('one entry per episode in the arrays'),
  created: z.string().optional().describe('ISO-8601 time the snapshot was written'),
  success_margin: z.number().optional(),
  reward: z.string().optional().describe('how rewards.npy was computed, in words'),
  base_policy: z.strictObject({ name: z.string(), version: z.string() }).optional()
    .describe('the policy the trainer starts from'),
  steps: z.int().min(0).optional().describe('rows in every array'),
  skipped_episodes: z.int().min(0).optional().describe('episodes left out because their layout differs from the base policy'),
});
export type SnapshotManifest = z.infer<typeof SnapshotManifestSchema>;

/** The JSON Schema committed as trainer/snapshot-manifest.schema.json and printed by `striatum schema snapshot-manifest`. */
export function snapshotManifestJsonSchema(): Record<string, unknown> {
  return { ...z.toJSONSchema(SnapshotManifestSchema, { io: 'input' }), title: 'snapshot-manifest' };
}

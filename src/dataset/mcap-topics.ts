// The topic filter of MCAP recordings and exports: names from MCAP_TOPICS, checked once.
import { StriatumError } from '../errors.js';

/** Topic names a recording or export can be limited to (camera: every camera's image topic). */
export const MCAP_TOPICS = [
  '/joint_states', '/striatum/observation', '/striatum/command', '/striatum/policy_action', '/striatum/camera',
  '/striatum/step', '/striatum/reward', '/striatum/episode',
] as const;
export type McapTopic = (typeof MCAP_TOPICS)[number];

/** `--topics a,b` → the set, or null (every topic). Unknown names are refused, naming the known ones. */
export function parseTopics(list: string | readonly string[] | undefined | null): ReadonlySet<string> | null {
  if (list === undefined || list === null) return null;
  const names = typeof list === 'string' ? list.split(',').map((t) => t.trim()).filter((t) => t !== '') : list;
  for (const t of names) {
    if (!(MCAP_TOPICS as readonly string[]).includes(t)) throw new StriatumError('STRIATUM_ERR_USAGE', `unknown MCAP topic "${t}"; choose from ${MCAP_TOPICS.join(', ')}`);
  }
  return new Set(names);
}

// Episode store → one MCAP file (the robot's recording format, mcap-steps.ts). Reads the store only; the file is
// written under a temporary name and renamed when whole.
import { renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { McapWriter } from '@mcap/core';
import { REWARD_COMPONENTS } from '../contracts/rollout.js';
import { StriatumError } from '../errors.js';
import type { RolloutStore } from '../updater/store.js';
import { PARTIAL_SUFFIX } from './atomic-file.js';
import { McapFile } from './mcap-file.js';
import { McapStepWriter } from './mcap-steps.js';

/** Chunks of about 1 MiB: what Foxglove and rosbag2 read quickly, and what a crash can cost at most. */
export const MCAP_CHUNK_BYTES = 1 << 20;

export interface McapExportOptions {
  readonly robot?: string;
  readonly task?: string;
  readonly complete?: boolean;
  readonly topics?: ReadonlySet<string> | null;
  /** Chunk size in bytes (default MCAP_CHUNK_BYTES). */
  readonly chunkBytes?: number;
}

export async function exportMcap(store: RolloutStore, path: string, options: McapExportOptions = {}): Promise<{ episodes: number; steps: number; messages: number; bytes: number }> {
  const rows = store.listEpisodes({ robot: options.robot, complete: options.complete === true ? true : undefined })
    .filter((r) => (options.task === undefined || r.task === options.task) && r.steps > 0);
  if (rows.length === 0) throw new StriatumError('STRIATUM_ERR_USAGE', `no stored episodes match (robot ${options.robot ?? 'any'}, task ${options.task ?? 'any'})`);
  const first = store.exportEpisode(rows[0].robot, rows[0].episode, { requireComplete: false });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}${PARTIAL_SUFFIX}`);
  const file = await McapFile.create(tmp);
  let steps = 0;
  try {
    const writer = new McapWriter({ writable: file, useChunks: true, chunkSize: options.chunkBytes ?? MCAP_CHUNK_BYTES });
    const layout = { joints: first.layout.joints, observation: first.layout.observation, cameras: first.layout.camera === null ? [] : [first.layout.camera] };
    const out = new McapStepWriter(writer, layout, options.topics ?? null);
    await out.start('striatum updater export');
    const obs = first.layout.observation.reduce((s, f) => s + f.size, 0);
    const act = first.layout.joints.length;
    // Virtual-time episodes all start near 0 ms: they are laid end to end so the file plays in order.
    let offsetMs = 0;
    let lastMs = 0;
    const reward = new Float64Array(REWARD_COMPONENTS.length);
    for (const row of rows) {
      const ex = row === rows[0] ? first : store.exportEpisode(row.robot, row.episode, { requireComplete: false });
      if (JSON.stringify(ex.layout) !== JSON.stringify(first.layout)) throw new StriatumError('STRIATUM_ERR_USAGE', `episode ${row.robot}/${row.episode} was recorded with another layout; export them apart with --robot or --task`);
      const c = ex.columns;
      const origin = ex.stampOriginUnixMs;
      if (origin === null && c.stampMs[0] + offsetMs < lastMs) offsetMs = lastMs - c.stampMs[0] + 1;
      const ns = (ms: number): bigint => BigInt(Math.round(((origin ?? 0) + (origin === null ? offsetMs : 0) + ms) * 1e6));
      const start = ns(c.stampMs[0]);
      const version = ex.chunkPolicies[0]?.policyVersion ?? null;
      await out.episode({ event: 'start', episode: `${ex.robot}/${ex.episode}`, stampNs: start, policy_version: version, instruction: ex.instruction, outcome: null, end_reason: null, steps: 0 });
      const frameSize = ex.layout.camera === null ? 0 : ex.layout.camera.width * ex.layout.camera.height * ex.layout.camera.channels;
      let f = 0;
      for (let i = 0; i < ex.steps; i++) {
        const stampNs = ns(c.stampMs[i]);
        // A frame rendered after step s goes out with that step's stamp.
        while (c.frames !== null && c.frameStep !== null && f < c.frameStep.length && c.frameStep[f] <= c.step[i]) {
          await out.frame(0, stampNs, c.frames.subarray(f * frameSize, (f + 1) * frameSize));
          f++;
        }
        REWARD_COMPONENTS.forEach((k, j) => { reward[j] = c.reward[k][i]; });
        await out.step({
          episode: `${ex.robot}/${ex.episode}`, step: c.step[i], stampNs,
          observation: c.observation.subarray(i * obs, (i + 1) * obs), command: c.command.subarray(i * act, (i + 1) * act), action: c.action.subarray(i * act, (i + 1) * act),
          progress: c.progress[i], flags: c.flags[i], done: (c.flags[i] & 1) !== 0, truncated: (c.flags[i] & 2) !== 0,
          reward: ex.layout.reward.length > 0 ? reward : null,
        });
        lastMs = (origin === null ? offsetMs : 0) + c.stampMs[i];
      }
      const row2 = store.episode(ex.robot, ex.episode);
      await out.episode({ event: 'end', episode: `${ex.robot}/${ex.episode}`, stampNs: ns(c.stampMs[ex.steps - 1]), policy_version: version, instruction: ex.instruction, outcome: ex.outcome, end_reason: row2?.end_reason ?? null, steps: ex.steps });
      steps += ex.steps;
    }
    await writer.end();
    await file.close();
    renameSync(tmp, path);
    return { episodes: rows.length, steps, messages: out.messages, bytes: file.bytes };
  } catch (err) {
    await file.close(false).catch(() => undefined);
    rmSync(tmp, { force: true });
    throw err;
  }
}

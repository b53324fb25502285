// Recovering an MCAP file that was never finished (the robot was killed, the power went): every record before
// the first incomplete or damaged one is read in order, and the schemas, channels and messages of every whole
// chunk are written to a new, finished, indexed file. The damaged file is left as it is.
import { readFileSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { McapStreamReader, McapWriter, type McapTypes } from '@mcap/core';
import { StriatumError } from '../errors.js';
import { PARTIAL_SUFFIX } from './atomic-file.js';
import { MCAP_CHUNK_BYTES } from './mcap-export.js';
import { McapFile } from './mcap-file.js';

export interface McapRecoverResult {
  readonly messages: number;
  readonly channels: number;
  /** The source was already a complete file (its footer read). */
  readonly complete: boolean;
  /** Bytes at the end of the source that were not part of any whole record. */
  readonly droppedBytes: number;
  /** Why reading stopped early (damaged bytes), or null when it ran to the end or to a cut-off record. */
  readonly stoppedBy: string | null;
}

export async function recoverMcap(source: string, target: string): Promise<McapRecoverResult> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(source);
  } catch (err) {
    throw new StriatumError('STRIATUM_ERR_IO', `cannot read ${source}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const reader = new McapStreamReader({ validateCrcs: true });
  reader.append(bytes);
  const records: McapTypes.TypedMcapRecord[] = [];
  let stoppedBy: string | null = null;
  for (;;) {
    let r: McapTypes.TypedMcapRecord | undefined;
    try {
      r = reader.nextRecord();
    } catch (err) {
      stoppedBy = (err as Error).message;
      break;
    }
    if (r === undefined) break;
    records.push(r);
  }
  const header = records.find((r) => r.type === 'Header');
  if (header === undefined) throw new StriatumError('STRIATUM_ERR_IO', `${source}: no MCAP header (not an MCAP file, or cut off before its first record)`);
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}${PARTIAL_SUFFIX}`);
  const file = await McapFile.create(tmp);
  const writer = new McapWriter({ writable: file, useChunks: true, chunkSize: MCAP_CHUNK_BYTES });
  const schemas = new Map<number, number>();
  const channels = new Map<number, number>();
  let messages = 0;
  try {
    await writer.start({ profile: header.profile, library: header.library });
    for (const r of records) {
      if (r.type === 'Schema' && !schemas.has(r.id)) {
        schemas.set(r.id, await writer.registerSchema({ name: r.name, encoding: r.encoding, data: r.data }));
      } else if (r.type === 'Channel' && !channels.has(r.id)) {
        channels.set(r.id, await writer.registerChannel({ topic: r.topic, messageEncoding: r.messageEncoding, schemaId: r.schemaId === 0 ? 0 : schemas.get(r.schemaId) ?? 0, metadata: r.metadata }));
      } else if (r.type === 'Message') {
        const channelId = channels.get(r.channelId);
        if (channelId === undefined) continue;
        await writer.addMessage({ ...r, channelId });
        messages++;
      }
    }
    await writer.end();
    await file.close();
    renameSync(tmp, target);
  } catch (err) {
    await file.close(false).catch(() => undefined);
    rmSync(tmp, { force: true });
    throw err;
  }
  return { messages, channels: channels.size, complete: reader.done(), droppedBytes: reader.bytesRemaining(), stoppedBy };
}

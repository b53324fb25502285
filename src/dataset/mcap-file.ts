// An MCAP file being written: a new file (never one that exists: a recording after a crash starts its own file
// and leaves the damaged one for `striatum mcap recover`), appended to by the libuv thread pool so the event
// loop, and with it the control tick, never waits on the disk. Writes are queued in order; `position()` counts
// what was handed over, which is what the MCAP writer's offsets need.
import { mkdirSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { IWritable } from '@mcap/core';

export class McapFile implements IWritable {
  private written = 0n;

  private constructor(readonly path: string, private readonly handle: FileHandle) {}

  /** Create `path`; refuses an existing file (EEXIST). */
  static async create(path: string): Promise<McapFile> {
    mkdirSync(dirname(path), { recursive: true });
    return new McapFile(path, await open(path, 'wx', 0o644));
  }

  position(): bigint {
    return this.written;
  }

  get bytes(): number {
    return Number(this.written);
  }

  async write(buffer: Uint8Array): Promise<void> {
    this.written += BigInt(buffer.byteLength);
    let off = 0;
    while (off < buffer.byteLength) off += (await this.handle.write(buffer, off, buffer.byteLength - off)).bytesWritten;
  }

  async close(sync = true): Promise<void> {
    if (sync) await this.handle.sync();
    await this.handle.close();
  }
}

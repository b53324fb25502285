// The serial link does its I/O on the event loop: a busy libuv thread pool (file I/O, DNS, compression in the
// same process) does not stall STATEs or COMMANDs. Runs in a child process so the pool can be one worker.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { before, test } from 'node:test';
import { ensureSimulator } from './helpers/sbp-sim.js';

before(() => { ensureSimulator(); });

test('commands are answered while the only thread-pool worker is blocked', () => {
  const helper = new URL('./helpers/busy-pool-link.js', import.meta.url).href;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(helper)}); await m.busyPoolRun();`], {
    env: { ...process.env, UV_THREADPOOL_SIZE: '1' }, timeout: 30_000,
  }).toString();
  const result = JSON.parse(out.trim().split('\n').pop() as string) as { statesWhileBlocked: number; commandsAnsweredWhileBlocked: number };
  // 100 commands 5 ms apart against a 200 Hz simulator; before, serialport's reads waited for the blocked worker.
  assert.ok(result.statesWhileBlocked >= 10, `STATEs while the pool was blocked: ${JSON.stringify(result)}`);
  assert.ok(result.commandsAnsweredWhileBlocked >= 10, `commands answered while the pool was blocked: ${JSON.stringify(result)}`);
});

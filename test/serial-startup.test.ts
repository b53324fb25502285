// Start-up over a lossy link, against the C simulator on a real pty: a PARAM_VALUE reply lost on the way back
// (sbp_sim --drop-param-replies N loses exactly the first N) is answered by resending PARAM_SET, within a bound.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isStriatumError } from '../src/errors.js';
import { createLogger, type Logger } from '../src/log.js';
import { PARAM_SET_ATTEMPTS } from '../src/transports/serial/serial-link.js';
import { SerialTransport, type SerialTransportOptions } from '../src/transports/serial/serial-transport.js';
import { SbpSimulator } from '../src/transports/serial/sim-process.js';
import { serialTestResources } from './helpers/sbp-sim.js';

const { sims, transports } = serialTestResources();

function captureLogger(): { logger: Logger; lines: Record<string, any>[] } {
  const lines: Record<string, any>[] = [];
  const logger = createLogger({ level: 'debug', sink: { pretty: false, write: (l) => { lines.push(JSON.parse(l)); } } });
  return { logger, lines };
}

async function startSim(args: string[]): Promise<SbpSimulator> {
  const sim = await SbpSimulator.start({ args: ['--joints', '3', ...args] });
  sims.push(sim);
  return sim;
}

function transport(path: string, logger: Logger, handshakeTimeoutMs: number): SerialTransport {
  const options: SerialTransportOptions = {
    path, baud: 1_000_000, jointNames: ['shoulder', 'elbow', 'wrist'], controlHz: 200, handshakeTimeoutMs, linkTimeoutMs: 200,
    watchdogMs: 50, safeMode: 'hold', reconnectInitialMs: 50, reconnectMaxMs: 400, logger,
  };
  const t = new SerialTransport(options);
  transports.push(t);
  return t;
}

test('lost PARAM_VALUE replies: PARAM_SET is resent, the start succeeds, and the resends are counted in the log', async () => {
  const lost = PARAM_SET_ATTEMPTS - 1;
  const sim = await startSim(['--drop-param-replies', String(lost)]);
  const { logger, lines } = captureLogger();
  const t = transport(sim.ptyPath, logger, 4000);
  await t.open();
  assert.equal(sim.events.filter((e) => e.event === 'param_reply_dropped').length, lost);
  // Every parameter is in effect: the firmware took the last value of each (resends carry the same value).
  const params = sim.events.filter((e) => e.event === 'param_set');
  assert.deepEqual([...new Map(params.map((e) => [e.id, [e.value, e.result]]))], [[1, [50, 0]], [3, [10, 0]], [4, [0, 0]]]);
  const ready = lines.find((l) => l.msg === 'serial link ready');
  assert.ok(ready !== undefined);
  assert.ok(ready.param_resends >= lost, `param_resends ${ready.param_resends}`);
});

test('a PARAM_SET never answered fails the start with a transport error once the bound is spent', async () => {
  const sim = await startSim(['--drop-param-replies', '1000000']);
  const { logger } = captureLogger();
  const t = transport(sim.ptyPath, logger, 800);
  await assert.rejects(t.open(), (e) => isStriatumError(e, 'STRIATUM_ERR_TRANSPORT') && e.message.includes('WATCHDOG_TIMEOUT_MS'));
  // Exactly the bound: one PARAM_SET and PARAM_SET_ATTEMPTS - 1 resends, then no more.
  await sim.waitFor((e) => e.event === 'param_reply_dropped' && e.count === PARAM_SET_ATTEMPTS, 2000);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(sim.events.filter((e) => e.event === 'param_set').length, PARAM_SET_ATTEMPTS);
});

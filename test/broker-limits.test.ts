// The embedded broker bounds what a client can make it hold: packet size before and after login, open connections.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { makeAccount } from '../src/broker/acl.js';
import { EmbeddedBroker } from '../src/broker/embedded-broker.js';
import { topics } from '../src/contracts/topics.js';
import { silentLogger } from '../src/log.js';
import { waitFor } from './helpers/fixtures.js';
import { connectClient, watch } from './helpers/mqtt-watch.js';

const robot = makeAccount('arm-1', 'arm-1-secret', 'robot');
const operator = makeAccount('op', 'op-secret', 'operator');

/** An MQTT fixed header written by hand: packet type byte and the remaining length as a variable-length integer. */
function fixedHeader(typeByte: number, remainingLength: number): Buffer {
  const bytes = [typeByte];
  let n = remainingLength;
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    bytes.push(b);
  } while (n > 0);
  return Buffer.from(bytes);
}

function rawConnection(port: number): Promise<Socket & { gone: boolean }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }) as Socket & { gone: boolean };
    s.gone = false;
    s.on('error', () => {}); // the broker resets the connection mid-write
    s.once('close', () => { s.gone = true; });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

let broker: EmbeddedBroker;
before(async () => {
  broker = await EmbeddedBroker.start({
    host: '127.0.0.1', port: 0, wsPort: null, accounts: [robot, operator], logger: silentLogger,
    maxConnections: 12, maxPacketBytes: 1024 * 1024,
  });
});
after(async () => { await broker.close(); });

test('a CONNECT announcing 250 MiB closes the connection before its body is buffered', async (t) => {
  const body = Buffer.alloc(16 * 1024 * 1024, 0x61); // one buffer shared by every write: the client holds no copies
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const sockets: (Socket & { gone: boolean })[] = [];
  for (let i = 0; i < 8; i++) {
    const s = await rawConnection(broker.port);
    s.write(fixedHeader(0x10, 250 * 1024 * 1024));
    s.write(body);
    sockets.push(s);
  }
  await waitFor('every oversized connection to be closed', () => sockets.every((s) => s.gone));
  assert.equal(broker.refused.oversizedPackets, 8);
  assert.equal(broker.refused.oversizedBytes, 8 * 250 * 1024 * 1024);
  const grewMiB = (process.memoryUsage().rss - rssBefore) / (1024 * 1024);
  t.diagnostic(`RSS grew by ${grewMiB.toFixed(1)} MiB while 8 clients sent 16 MiB each`);
  // Unbounded, the broker would hold 8 × 16 MiB of sent bytes; bounded, it holds nothing of them.
  assert.ok(grewMiB < 48, `RSS grew by ${grewMiB.toFixed(1)} MiB`);
});

test('a logged-in client may publish up to max_packet_bytes, not more', async () => {
  const w = await watch(broker.url, 'op', 'op-secret', 'striatum/v1/#');
  const c = await connectClient(broker.url, 'arm-1', 'arm-1-secret');
  const fits = Buffer.alloc(512 * 1024, 0x62);
  await c.publishAsync(topics.event('arm-1'), fits, { qos: 1 });
  await waitFor('the 512 KiB message', () => w.messages.find((m) => m.payload.length === fits.length));
  const before = broker.refused.oversizedPackets;
  c.publish(topics.event('arm-1'), Buffer.alloc(2 * 1024 * 1024, 0x63), { qos: 0 });
  await waitFor('the oversized publish to close the connection', () => broker.refused.oversizedPackets > before && !c.connected);
  await c.endAsync(true).catch(() => undefined);
  await w.close();
});

test('connections beyond max_connections are closed; the broker keeps serving the others', async () => {
  const idle: (Socket & { gone: boolean })[] = [];
  for (let i = 0; i < 12; i++) idle.push(await rawConnection(broker.port));
  const extra = await rawConnection(broker.port);
  await waitFor('the connection over the limit to be closed', () => extra.gone);
  assert.ok(broker.refused.connections >= 1);
  for (const s of idle) s.destroy();
  let c = null;
  for (let attempt = 0; c === null && attempt < 50; attempt++) {
    c = await connectClient(broker.url, 'arm-1', 'arm-1-secret').catch(() => null);
    if (c === null) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(c !== null, 'a login succeeds once the idle connections are gone');
  await c.endAsync();
});

test('a connection that never sends CONNECT is closed', async () => {
  const s = await rawConnection(broker.port);
  await waitFor('the silent connection to be closed', () => s.gone);
});

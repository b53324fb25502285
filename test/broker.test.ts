import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { canPublish, canSubscribe, clientIdOwner, makeAccount } from '../src/broker/acl.js';
import { EmbeddedBroker } from '../src/broker/embedded-broker.js';
import { topics } from '../src/contracts/topics.js';
import { createLogger, silentLogger } from '../src/log.js';
import { StriatumError } from '../src/errors.js';
import { createServer, type AddressInfo } from 'node:net';
import { waitFor } from './helpers/fixtures.js';
import { connectClient, connectionRefusal, watch } from './helpers/mqtt-watch.js';

const robot = makeAccount('arm-1', 'arm-1-secret', 'robot');
const operator = makeAccount('op', 'op-secret', 'operator');
const updater = makeAccount('upd', 'upd-secret', 'updater');
const viewer = makeAccount('view', 'view-secret', 'viewer');

test('ACL: a robot publishes only under its own prefix, never commands to itself', () => {
  assert.equal(canPublish(robot, topics.telemetry('arm-1')), true);
  assert.equal(canPublish(robot, topics.status('arm-1')), true);
  assert.equal(canPublish(robot, topics.telemetry('arm-2')), false);
  assert.equal(canPublish(robot, topics.cmd('arm-1')), false);
  assert.equal(canPublish(robot, topics.rolloutAck('arm-1')), false);
  assert.equal(canPublish(robot, topics.policyManifest('push')), false);
  assert.equal(canPublish(robot, 'striatum/v1/arm-1x/telemetry'), false, 'a prefix of another id is not its own');
});

test('ACL: operators command, updaters ack and publish policies, viewers only read', () => {
  assert.equal(canPublish(operator, topics.cmd('arm-7')), true);
  assert.equal(canPublish(operator, topics.telemetry('arm-7')), false);
  assert.equal(canPublish(updater, topics.rolloutAck('arm-7')), true);
  assert.equal(canPublish(updater, topics.policyManifest('push')), true);
  assert.equal(canPublish(updater, topics.cmd('arm-7')), false);
  assert.equal(canPublish(viewer, topics.cmd('arm-7')), false);
  assert.equal(canSubscribe(viewer, 'striatum/v1/#'), true);
  assert.equal(canSubscribe(robot, topics.cmd('arm-1')), true);
  assert.equal(canSubscribe(robot, topics.cmd('arm-2')), false);
  assert.equal(canSubscribe(robot, 'striatum/v1/#'), false);
  assert.equal(canSubscribe(robot, 'striatum/v1/policy/+/manifest'), true);
});

let broker: EmbeddedBroker;
before(async () => {
  broker = await EmbeddedBroker.start({ host: '127.0.0.1', port: 0, wsPort: 0, accounts: [robot, operator, updater, viewer], logger: silentLogger });
});
after(async () => { await broker.close(); });

test('embedded broker: wrong or missing credentials are refused', async () => {
  const bad = await connectionRefusal(broker.url, 'arm-1', 'not-the-password');
  assert.match(bad.message, /Bad username or password|Not authorized|bad user/i);
  await connectionRefusal(broker.url, 'nobody', 'whatever');
  assert.ok(broker.refused.logins >= 2);
});

test('embedded broker: a robot cannot publish under another robot\'s prefix', async () => {
  const w = await watch(broker.url, 'op', 'op-secret', 'striatum/v1/#');
  const c = await connectClient(broker.url, 'arm-1', 'arm-1-secret');
  const before = broker.refused.publishes;
  await c.publishAsync(topics.telemetry('arm-1'), 'genuine', { qos: 1 });
  await waitFor('the genuine message', () => w.messages.find((m) => m.payload === 'genuine'));
  c.publish(topics.telemetry('arm-2'), 'forged', { qos: 0 });
  await waitFor('the refusal to be counted', () => broker.refused.publishes > before);
  // MQTT 3.1.1 has no negative PUBACK: aedes drops the message and closes the offending connection.
  await waitFor('the forging client to be disconnected', () => !c.connected);
  assert.equal(w.messages.some((m) => m.payload === 'forged'), false);
  await c.endAsync().catch(() => undefined);
  await w.close();
});

test('embedded broker: subscriptions outside the ACL get a failure code', async () => {
  const c = await connectClient(broker.url, 'arm-1', 'arm-1-secret');
  const refused = await c.subscribeAsync(topics.cmd('arm-2'), { qos: 1 }).then(
    () => null,
    (err: { packet?: { granted?: number[] } }) => err.packet?.granted ?? null,
  );
  assert.deepEqual(refused, [128]);
  const ok = await c.subscribeAsync(topics.cmd('arm-1'), { qos: 1 });
  assert.equal(ok[0].qos, 1);
  await c.endAsync();
});

test('embedded broker: MQTT over WebSocket for dashboards', async () => {
  const w = await watch(`ws://127.0.0.1:${broker.wsPort}`, 'view', 'view-secret', 'striatum/v1/#');
  const c = await connectClient(broker.url, 'arm-1', 'arm-1-secret');
  c.publish(topics.status('arm-1'), 'hello-ws', { qos: 1 });
  await waitFor('message over WebSocket', () => w.messages.find((m) => m.payload === 'hello-ws'));
  await c.endAsync();
  await w.close();
  // Without a page to serve (mqtt.dashboard: false), a plain HTTP request is told to upgrade.
  assert.equal((await fetch(`http://127.0.0.1:${broker.wsPort}/`)).status, 426);
});

test('embedded broker: a port held by another broker names the port, the setting and the way out', async () => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const busy = (holder.address() as AddressInfo).port;
  try {
    const tcpErr = await EmbeddedBroker.start({ host: '127.0.0.1', port: busy, wsPort: null, accounts: [robot], logger: silentLogger }).then(() => null, (e: unknown) => e);
    assert.ok(tcpErr instanceof StriatumError);
    assert.equal(tcpErr.code, 'STRIATUM_ERR_BROKER');
    assert.match(tcpErr.message, new RegExp(`\\b${busy}\\b`));
    assert.match(tcpErr.message, /mqtt\.port/);
    const wsErr = await EmbeddedBroker.start({ host: '127.0.0.1', port: 0, wsPort: busy, accounts: [robot], logger: silentLogger }).then(() => null, (e: unknown) => e);
    assert.ok(wsErr instanceof StriatumError);
    assert.equal(wsErr.code, 'STRIATUM_ERR_BROKER');
    assert.match(wsErr.message, /mqtt\.ws_port/);
  } finally {
    holder.close();
  }
});

test('embedded broker: an MQTT 5 client is refused with "unsupported protocol version" and the refusal is logged', async () => {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'info', sink: { pretty: false, write: (l) => { lines.push(JSON.parse(l)); } } });
  const b = await EmbeddedBroker.start({ host: '127.0.0.1', port: 0, wsPort: null, accounts: [robot], logger });
  try {
    const err = await connectClient(b.url, 'arm-1', 'arm-1-secret', { protocolVersion: 5, clientId: 'arm-1-v5' }).then(
      async (c) => { await c.endAsync(); return null; },
      (e: Error & { code?: number }) => e,
    );
    assert.ok(err !== null, 'an MQTT 5 CONNECT must not be accepted by an MQTT 3.1.1 broker');
    assert.equal(b.refused.protocol, 1);
    const line = lines.find((l) => l.protocol_version === 5);
    assert.ok(line, 'the refusal is logged with the protocol version');
    assert.equal(line.client, 'arm-1-v5');
  } finally {
    await b.close();
  }
});

test('ACL: a client id belongs to the account it names; the longest claim wins; unclaimed ids are open', () => {
  const arm = makeAccount('arm', 'arm-secret', 'robot');
  const accounts = [robot, arm, operator, viewer];
  assert.equal(clientIdOwner(accounts, 'striatum-arm-1'), robot);
  assert.equal(clientIdOwner(accounts, 'striatum-arm-1-rollout'), robot);
  assert.equal(clientIdOwner(accounts, 'arm-1'), robot);
  assert.equal(clientIdOwner(accounts, 'arm-1-rollout'), robot, 'not account "arm": its claim is shorter');
  assert.equal(clientIdOwner(accounts, 'arm-2'), arm);
  assert.equal(clientIdOwner(accounts, 'op-dashboard'), operator);
  assert.equal(clientIdOwner(accounts, 'mosq-Xc81'), null);
});

test('embedded broker: a viewer using the robot\'s client id is refused and cannot keep e-stops from the robot', async () => {
  const robotClient = await connectClient(broker.url, 'arm-1', 'arm-1-secret', { clientId: 'striatum-arm-1' });
  const received: string[] = [];
  robotClient.on('message', (_t, payload) => received.push(payload.toString()));
  await robotClient.subscribeAsync(topics.cmd('arm-1'), { qos: 1 });
  let kicks = 0;
  robotClient.on('close', () => { kicks++; });
  const before = broker.refused.clientIds;
  for (const [user, pass, id] of [['view', 'view-secret', 'striatum-arm-1'], ['op', 'op-secret', 'arm-1-x'], ['view', 'view-secret', 'op']] as const) {
    const err = await connectClient(broker.url, user, pass, { clientId: id }).then(async (c) => { await c.endAsync(); return null; }, (e: Error) => e);
    assert.ok(err !== null, `${user} must not log in as ${id}`);
    assert.match(err.message, /identifier rejected/i);
  }
  assert.equal(broker.refused.clientIds, before + 3);
  const op = await connectClient(broker.url, 'op', 'op-secret', { clientId: 'mosq-any' });
  await op.publishAsync(topics.cmd('arm-1'), '{"v":1,"command":"estop"}', { qos: 1 });
  await waitFor('the e-stop at the robot', () => received.some((p) => p.includes('estop')));
  assert.equal(kicks, 0, 'the robot was never disconnected');
  await op.endAsync();
  await robotClient.endAsync();
});

test('ACL: only operators may subscribe to the operator-access topic (the dashboard shows controls by it); pieces have their own root', () => {
  assert.equal(canSubscribe(operator, topics.operatorEcho('op-dashboard-1')), true);
  assert.equal(canPublish(operator, topics.operatorEcho('op-dashboard-1')), true);
  assert.equal(canSubscribe(viewer, topics.operatorEcho('view-dashboard-1')), false);
  assert.equal(canPublish(viewer, topics.operatorEcho('view-dashboard-1')), false);
  assert.equal(canSubscribe(updater, topics.operatorEcho('upd-1')), false);
  assert.equal(canSubscribe(robot, topics.operatorEcho('arm-1')), false);
  assert.equal(canPublish(updater, topics.policyPiece('push', 'ab'.repeat(32), 0)), true);
  assert.equal(canPublish(operator, topics.policyPiece('push', 'ab'.repeat(32), 0)), false);
  assert.equal(canSubscribe(robot, topics.policyPieces('push', 'ab'.repeat(32))), true);
  assert.equal(topics.policyPiece('push', 'ab'.repeat(32), 0).startsWith('striatum/v1/'), false, 'a striatum/v1/# subscriber never matches a piece');
  assert.equal(canPublish(robot, topics.camera('arm-1', 'top')), true);
  assert.equal(canPublish(robot, topics.camera('arm-2', 'top')), false);
});

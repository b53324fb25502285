// The robot's MQTT link against real brokers (aedes and Mosquitto): what it takes as a command.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { makeAccount } from '../src/broker/acl.js';
import { EmbeddedBroker } from '../src/broker/embedded-broker.js';
import { CONTRACT_VERSION, type CommandMessage, type StatusMessage } from '../src/contracts/messages.js';
import { topics } from '../src/contracts/topics.js';
import { silentLogger } from '../src/log.js';
import { FLAP_LIMIT, RobotLink } from '../src/telemetry/robot-link.js';
import { freePort, waitFor } from './helpers/fixtures.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { connectClient, watch } from './helpers/mqtt-watch.js';

const ROBOT = 'arm-1';
const PASSWORDS = { [ROBOT]: 'arm-1-secret', operator: 'operator-secret' };

function offline(): StatusMessage {
  return { v: CONTRACT_VERSION, robot: ROBOT, online: false, state: null, reason: 'test over', policy: null, transport: null, stamp: new Date().toISOString() };
}

interface Broker { url: string; refusedPublishes(): number; stop(): Promise<void> }

async function startBroker(kind: 'aedes' | 'mosquitto'): Promise<Broker> {
  if (kind === 'mosquitto') {
    const m = await startMosquitto(PASSWORDS);
    return { url: m.url, refusedPublishes: () => 0, stop: () => m.stop() };
  }
  const b = await EmbeddedBroker.start({
    host: '127.0.0.1', port: 0, wsPort: null, logger: silentLogger,
    accounts: [makeAccount(ROBOT, PASSWORDS[ROBOT], 'robot'), makeAccount('operator', PASSWORDS.operator, 'operator')],
  });
  return { url: b.url, refusedPublishes: () => b.refused.publishes, stop: () => b.close() };
}

function linkFor(url: string, o: { graceMs: number }): { link: RobotLink; actions: string[] } {
  const link = new RobotLink({
    url, robotId: ROBOT, username: ROBOT, password: PASSWORDS[ROBOT], keepaliveS: 10, logger: silentLogger, connectWaitMs: 5000,
    onDisconnect: 'pause', disconnectGraceMs: o.graceMs,
  });
  const actions: string[] = [];
  link.onLinkLost((action) => actions.push(action));
  return { link, actions };
}

test('a link down past the grace pauses the robot; once back it reports how long it was deaf', async () => {
  const port = await freePort();
  const accounts = [makeAccount(ROBOT, PASSWORDS[ROBOT], 'robot'), makeAccount('operator', PASSWORDS.operator, 'operator')];
  let broker = await EmbeddedBroker.start({ host: '127.0.0.1', port, wsPort: null, logger: silentLogger, accounts });
  const { link, actions } = linkFor(broker.url, { graceMs: 300 });
  assert.equal(await link.start(), true);
  await broker.close();
  await waitFor('the robot to be paused', () => actions.length === 1);
  assert.deepEqual(actions, ['pause']);
  broker = await EmbeddedBroker.start({ host: '127.0.0.1', port, wsPort: null, logger: silentLogger, accounts });
  const events = await watch(broker.url, 'operator', PASSWORDS.operator, topics.event(ROBOT));
  await waitFor('the reconnection event', () => events.json('/event').find((e) => e.kind === 'connection'));
  assert.equal(events.json('/event').find((e) => e.kind === 'connection').code, 'mqtt_reconnected_after_pause');
  assert.deepEqual(actions, ['pause'], 'one action per loss');
  await link.close(offline());
  await events.close();
  await broker.close();
});

for (const kind of ['aedes', 'mosquitto'] as const) {
  describe(`robot link over ${kind}`, () => {
    let broker: Broker;
    before(async () => { broker = await startBroker(kind); });
    after(async () => { await broker.stop(); });

    test('a retained command is never obeyed, on any reconnect; a live one is', async () => {
      const resume = JSON.stringify({ v: 1, command: 'resume', from: 'operator' });
      const op = await connectClient(broker.url, 'operator', PASSWORDS.operator);
      op.on('error', () => {});
      const refusedBefore = broker.refusedPublishes();
      if (kind === 'aedes') {
        // The embedded broker refuses to store a retained command at all (and closes the publisher).
        op.publish(topics.cmd(ROBOT), resume, { qos: 1, retain: true });
        await waitFor('the retained command to be refused', () => broker.refusedPublishes() > refusedBefore);
      } else {
        await op.publishAsync(topics.cmd(ROBOT), resume, { qos: 1, retain: true });
      }
      await op.endAsync(true).catch(() => undefined);

      const events = await watch(broker.url, 'operator', PASSWORDS.operator, topics.event(ROBOT));
      const commands: CommandMessage[] = [];
      for (let round = 1; round <= 2; round++) { // the second round is the robot coming back after a restart
        const link = new RobotLink({ url: broker.url, robotId: ROBOT, username: ROBOT, password: PASSWORDS[ROBOT], keepaliveS: 10, logger: silentLogger, connectWaitMs: 5000 });
        link.onCommand((c) => commands.push(c));
        assert.equal(await link.start(), true);
        const live = await connectClient(broker.url, 'operator', PASSWORDS.operator);
        await live.publishAsync(topics.cmd(ROBOT), JSON.stringify({ v: 1, command: 'pause', reason: `round ${round}` }), { qos: 1 });
        await live.endAsync();
        await waitFor('the live command', () => commands.some((c) => c.reason === `round ${round}`));
        if (kind === 'mosquitto') {
          // Mosquitto stores the retained command; the robot sees it on subscribing and refuses it.
          assert.equal(link.rejectedMessages, 1);
          await waitFor('the retained-command event', () => events.json('/event').filter((e) => e.code === 'retained_command').length === round);
        }
        await link.close(offline());
      }
      assert.deepEqual(commands.map((c) => c.command), ['pause', 'pause'], 'the retained resume is never handed to the robot');

      if (kind === 'mosquitto') { // clear the stored command: an empty retained message
        const clear = await connectClient(broker.url, 'operator', PASSWORDS.operator);
        await clear.publishAsync(topics.cmd(ROBOT), '', { qos: 1, retain: true });
        await clear.endAsync();
      }
      await events.close();
    });

    if (kind === 'mosquitto') {
      test('a link kicked off again and again pauses the robot without waiting for the grace', async () => {
        // This Mosquitto does not bind client ids to accounts: another login with the robot's id takes its session.
        const { link, actions } = linkFor(broker.url, { graceMs: 600_000 });
        assert.equal(await link.start(), true);
        for (let kick = 1; kick <= FLAP_LIMIT; kick++) {
          await waitFor('the link to be up', () => link.connected);
          const intruder = await connectClient(broker.url, ROBOT, PASSWORDS[ROBOT], { clientId: `striatum-${ROBOT}` });
          await waitFor('the link to be kicked off', () => !link.connected);
          await intruder.endAsync(true);
        }
        await waitFor('the robot to be paused', () => actions.length === 1);
        assert.deepEqual(actions, ['pause']);
        await link.close(offline());
      });
    }
  });
}

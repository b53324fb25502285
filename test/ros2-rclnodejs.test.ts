// The rclnodejs backend. Contract tests run everywhere against an in-process double with rclnodejs's API shape
// (init, createNode, createPublisher/createSubscription with isRaw, QoS). The test against a real ROS 2 runs
// only where ROS 2 is sourced and rclnodejs loads; elsewhere it is reported as skipped, with the reason.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { parse } from 'yaml';
import { FLOAT64_MULTI_ARRAY, JOINT_STATE, decodeMessage, encodeMessage } from '../src/transports/ros2/messages.js';
import { loadRclnodejs, RclnodejsBackend, type RclnodejsModule, type RclnodejsNode } from '../src/transports/ros2/rclnodejs-backend.js';
import { startCli, tempDir, waitFor, writeConfig } from './helpers/fixtures.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** rclnodejs's shape, recording what the backend asks of it. */
function rclnodejsDouble() {
  const calls: string[] = [];
  const published: { topic: string; message: Buffer }[] = [];
  const subscriptions = new Map<string, (m: Buffer) => void>();
  class QoS {
    static HistoryPolicy = { RMW_QOS_POLICY_HISTORY_KEEP_LAST: 1 };
    static ReliabilityPolicy = { RMW_QOS_POLICY_RELIABILITY_RELIABLE: 1, RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT: 2 };
    static DurabilityPolicy = { RMW_QOS_POLICY_DURABILITY_TRANSIENT_LOCAL: 1, RMW_QOS_POLICY_DURABILITY_VOLATILE: 2 };
    constructor(readonly history: number, readonly depth: number, readonly reliability: number, readonly durability: number) {}
  }
  const node: RclnodejsNode = {
    createPublisher(type, topic, options) {
      calls.push(`publisher ${type} ${topic} ${JSON.stringify(options.qos)}`);
      return { publish: (message: Buffer) => { assert.ok(Buffer.isBuffer(message)); published.push({ topic, message: Buffer.from(message) }); }, subscriptionCount: 1 };
    },
    createSubscription(type, topic, options, callback) {
      calls.push(`subscription ${type} ${topic} raw=${options.isRaw} ${JSON.stringify(options.qos)}`);
      subscriptions.set(topic, callback);
      return {};
    },
    spin: () => { calls.push('spin'); },
    destroy: () => { calls.push('destroy'); },
  };
  const module: RclnodejsModule = {
    init: () => { calls.push('init'); return Promise.resolve(); },
    createNode: (name, namespace) => { calls.push(`node ${name} ${namespace ?? ''}`); return node; },
    shutdown: () => { calls.push('shutdown'); },
    QoS,
  };
  return { module, calls, published, subscriptions };
}

test('rclnodejs backend: a node with the configured name and namespace, serialized messages both ways, QoS mapped', async () => {
  const rcl = rclnodejsDouble();
  const backend = new RclnodejsBackend(rcl.module, { nodeName: 'striatum', namespace: '/arm1', domainId: 0 });
  await backend.open();
  const publisher = await backend.publisher('/fwd/commands', FLOAT64_MULTI_ARRAY, { reliability: 'reliable', durability: 'volatile', depth: 10 });
  const got: Uint8Array[] = [];
  await backend.subscribe('/joint_states', JOINT_STATE, { reliability: 'best_effort', durability: 'volatile', depth: 5 }, (p) => got.push(p.slice()));
  const command = encodeMessage(FLOAT64_MULTI_ARRAY, { data: [1, 2] }).slice();
  assert.ok(publisher.publish(command));
  assert.equal(publisher.inFlight, 0);
  assert.deepEqual(rcl.published[0].message, Buffer.from(command)); // the same CDR the Cyclone backend sends
  const state = encodeMessage(JOINT_STATE, { name: ['a'], position: [1] }).slice();
  rcl.subscriptions.get('/joint_states')!(Buffer.from(state));
  assert.deepEqual(decodeMessage(JOINT_STATE, got[0]).position, [1]);
  await backend.close();
  assert.deepEqual(rcl.calls, [
    'init', 'node striatum /arm1', 'spin',
    'publisher std_msgs/msg/Float64MultiArray /fwd/commands {"history":1,"depth":10,"reliability":1,"durability":2}',
    'subscription sensor_msgs/msg/JointState /joint_states raw=true {"history":1,"depth":5,"reliability":2,"durability":2}',
    'destroy', 'shutdown',
  ]);
});

test('rclnodejs backend: a prefixed command buffer goes out as it is (the backend keeps no frame header)', async () => {
  const rcl = rclnodejsDouble();
  const backend = new RclnodejsBackend(rcl.module, { nodeName: 'striatum', namespace: '', domainId: 0 });
  await backend.open();
  const publisher = await backend.publisher('/c', FLOAT64_MULTI_ARRAY, { reliability: 'reliable', durability: 'volatile', depth: 1 });
  assert.equal(publisher.prefixBytes, 0);
  const buffer = Buffer.from(encodeMessage(FLOAT64_MULTI_ARRAY, { data: [3] }));
  publisher.preparePrefix(buffer, buffer.length);
  assert.ok(publisher.sendPrefixed(buffer));
  assert.deepEqual(rcl.published[0].message, buffer);
});

const realRos = await (async () => {
  const loaded = await loadRclnodejs();
  if ('why' in loaded) return { skip: `needs a sourced ROS 2 with rclnodejs installed: ${loaded.why}` };
  if (spawnSync('ros2', ['--help'], { stdio: 'ignore' }).error !== undefined) return { skip: 'needs the ros2 command line (ros2cli) of the sourced ROS 2' };
  return { skip: false as const };
})();
if (realRos.skip !== false) console.log(`# ros2-rclnodejs: the real ROS 2 test is SKIPPED: ${realRos.skip}`);

test('real ROS 2: striatum run with backend rclnodejs takes `ros2 topic pub` joint states and its commands show in `ros2 topic echo`', { skip: realRos.skip }, async () => {
  const dir = tempDir();
  const cfg = parse(readFileSync(join(ROOT, 'examples', 'ros2-peer.yaml'), 'utf8'));
  cfg.policy.model = join(ROOT, 'models', 'joint-tracking', 'policy.onnx');
  cfg.mqtt = { ...cfg.mqtt, port: 0, ws_port: null };
  cfg.control.link_timeout_ms = 1000;
  cfg.transport = { ...cfg.transport, backend: 'rclnodejs', startup_timeout_ms: 15000 };
  const names = cfg.joints.map((j: { name: string }) => j.name);
  const pub = spawn('ros2', ['topic', 'pub', '-r', '50', '/joint_states', 'sensor_msgs/msg/JointState',
    `{name: [${names.join(', ')}], position: [${names.map(() => '0.0').join(', ')}]}`], { stdio: 'ignore' });
  const run = startCli(['run', '--config', writeConfig(dir, cfg)]);
  try {
    await waitFor('the control loop', () => run.logs().find((l) => l.msg === 'control loop started'), 60_000);
    assert.ok(run.logs().some((l) => /ros2 backend: rclnodejs/.test(String(l.msg))));
    const echo = spawnSync('ros2', ['topic', 'echo', '--once', '/forward_velocity_controller/commands', 'std_msgs/msg/Float64MultiArray'], { encoding: 'utf8', timeout: 30_000 });
    assert.match(echo.stdout, /data:/);
    const nodes = spawnSync('ros2', ['node', 'list'], { encoding: 'utf8', timeout: 30_000 });
    assert.match(nodes.stdout, /\/striatum/);
  } finally {
    run.child.kill('SIGINT');
    pub.kill('SIGINT');
    await run.exited;
  }
});

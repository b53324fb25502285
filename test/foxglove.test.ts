// The Foxglove live view of a running simulated robot, read with FoxgloveClient from @foxglove/ws-protocol: the
// channels are advertised with their schemas, and messages on each decode and fit them.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import WebSocket from 'ws';
import { loadConfig } from '../src/config/load.js';
import { silentLogger } from '../src/log.js';
import { RobotRuntime } from '../src/runtime/robot-runtime.js';
import { REPO, simConfig, tempDir, waitFor, writeConfig, writeLinearPolicy } from './helpers/fixtures.js';

const { FoxgloveClient } = createRequire(import.meta.url)('@foxglove/ws-protocol') as typeof import('@foxglove/ws-protocol');

type Schema = { type?: string | string[]; properties?: Record<string, Schema>; required?: string[]; items?: Schema };

/** The subset of JSON Schema the channels use: type (or types), properties, required, items. */
function fits(value: unknown, schema: Schema, at = '$'): string[] {
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  const kind = value === null ? 'null' : Array.isArray(value) ? 'array' : Number.isInteger(value) ? 'integer' : typeof value;
  if (types.length > 0 && !types.includes(kind) && !(kind === 'integer' && types.includes('number'))) return [`${at}: ${kind} is not ${types.join('|')}`];
  const problems: string[] = [];
  if (kind === 'object') {
    const obj = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (!(r in obj)) problems.push(`${at}.${r}: missing`);
    for (const [k, s] of Object.entries(schema.properties ?? {})) if (k in obj) problems.push(...fits(obj[k], s, `${at}.${k}`));
  }
  if (kind === 'array' && schema.items) (value as unknown[]).forEach((v, i) => problems.push(...fits(v, schema.items!, `${at}[${i}]`)));
  return problems;
}

test('Foxglove live view: joint states, commands, progress, rewards and camera images, each fitting its advertised schema', async () => {
  const dir = tempDir();
  const cfg = simConfig(writeLinearPolicy(dir), { robotId: 'fox-1' });
  cfg.foxglove = { port: 0, rate_hz: 10 };
  cfg.reward = { models: [{ name: 'progress', kind: 'progress', model: join(REPO, 'models/push-prm/progress.onnx'), cameras: ['top'], rate_hz: 5 }], shaping: { horizon_s: 2 } };
  const runtime = await RobotRuntime.start({ loaded: loadConfig(writeConfig(dir, cfg)), logger: silentLogger, mqtt: true, episodes: null });
  const run = runtime.run();
  const ws = new WebSocket(`ws://127.0.0.1:${runtime.foxglove!.port}`, [FoxgloveClient.SUPPORTED_SUBPROTOCOL]);
  const client = new FoxgloveClient({ ws: ws as any });
  try {
    const channels = new Map<number, { topic: string; schemaName: string; schema: Schema }>();
    const received = new Map<string, unknown[]>();
    const topicOf = new Map<number, string>();
    client.on('advertise', (list) => {
      for (const c of list) {
        channels.set(c.id, { topic: c.topic, schemaName: c.schemaName, schema: JSON.parse(c.schema) });
        topicOf.set(client.subscribe(c.id), c.topic);
      }
    });
    client.on('message', ({ subscriptionId, data }) => {
      const topic = topicOf.get(subscriptionId)!;
      const list = received.get(topic) ?? [];
      list.push(JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8")));
      received.set(topic, list);
    });
    const topicsWanted = ['/fox-1/joint_states', '/fox-1/joint_commands', '/fox-1/progress', '/fox-1/reward', '/fox-1/camera/top'];
    await waitFor('a message on every channel', () => topicsWanted.every((t) => (received.get(t)?.length ?? 0) >= 2), 30_000);
    for (const [, c] of channels) {
      for (const message of received.get(c.topic) ?? []) assert.deepEqual(fits(message, c.schema), [], `${c.topic} fits ${c.schemaName}`);
    }
    assert.equal([...channels.values()].find((c) => c.topic === '/fox-1/camera/top')!.schemaName, 'foxglove.CompressedImage');
    const image = received.get('/fox-1/camera/top')![0] as { data: string; format: string };
    assert.equal(image.format, 'jpeg');
    assert.deepEqual([...Buffer.from(image.data, 'base64').subarray(0, 2)], [0xff, 0xd8], 'a JPEG');
    const joints = received.get('/fox-1/joint_states')!.at(-1) as { name: string[]; position: number[] };
    assert.deepEqual(joints.name, ['x', 'y']);
    assert.ok(joints.position.every((p) => typeof p === 'number'), 'joint positions are numbers');
  } finally {
    client.close();
    runtime.loop?.stop('test done');
    await run.catch(() => undefined);
    await runtime.shutdown('test done');
  }
});

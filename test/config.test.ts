import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { DEMO_PASSWORDS } from '../src/config/cross-checks.js';
import { parseConfigText } from '../src/config/load.js';
import { isStriatumError } from '../src/errors.js';
import { loadLearnConfig } from '../src/learn/config.js';
import { loadUpdaterConfig } from '../src/updater/config.js';
import { freePort, REPO, runCli, simConfig, startCli, tempDir, waitFor, writeConfig, writeLinearPolicy } from './helpers/fixtures.js';

function problemsOf(config: unknown): string[] {
  try {
    parseConfigText(typeof config === 'string' ? config : JSON.stringify(config), 'test.yaml');
  } catch (err) {
    assert.ok(isStriatumError(err, 'STRIATUM_ERR_CONFIG'), `expected a config error, got ${String(err)}`);
    return [...err.details];
  }
  return [];
}

const good = (): Record<string, any> => simConfig('policy.onnx');

test('the shipped example configs are valid', () => {
  const text = readFileSync(join(REPO, 'examples/sim.yaml'), 'utf8');
  assert.deepEqual(problemsOf(text), []);
  assert.equal(parse(text).robot.id, 'sim-pusher-1');
});

test('each problem is reported with its field path', () => {
  const cfg = good();
  cfg.joints[1].velocity = -1;
  cfg.joints[0].position = { min: 1, max: 0 };
  cfg.control.rate_hz = 5000;
  cfg.transport.kind = 'carrier-pigeon';
  cfg.mqtt.prot = 1883;
  const lines = problemsOf(cfg);
  const paths = lines.map((l) => l.split(':')[0]);
  assert.ok(paths.includes('joints[1].velocity'), lines.join('\n'));
  assert.ok(paths.includes('joints[0].position'), lines.join('\n'));
  assert.ok(paths.includes('control.rate_hz'), lines.join('\n'));
  assert.ok(paths.includes('transport.kind'), lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith('mqtt') && l.includes('prot')), lines.join('\n'));
});

test('cross-field rules: duplicate joints and per-joint arrays of the wrong length', () => {
  const cfg = good();
  cfg.joints[1].name = 'x';
  cfg.action.scale = [1, 2, 3];
  const lines = problemsOf(cfg);
  assert.ok(lines.some((l) => l.startsWith('joints[1].name') && l.includes('duplicate')), lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith('action.scale')), lines.join('\n'));
});

test('missing sections and YAML syntax errors are named', () => {
  const noPolicy = good();
  delete noPolicy.policy;
  assert.ok(problemsOf(noPolicy).some((l) => l.startsWith('policy')));
  const lines = problemsOf('robot: { id: a\njoints: [');
  assert.ok(lines.length > 0 && lines.every((l) => /^line \d+, column \d+/.test(l)), lines.join('\n'));
});

test('defaults fill in what a minimal config leaves out', () => {
  const cfg = good();
  delete cfg.mqtt;
  delete cfg.episodes;
  const parsed = parseConfigText(JSON.stringify(cfg), 'x');
  assert.equal(parsed.mqtt.broker, 'embedded');
  assert.equal(parsed.mqtt.port, 1883);
  assert.deepEqual(parsed.policy.execution_providers, ['cpu']);
  assert.equal(parsed.episodes.count, null);
});

test('striatum config check: exit 2 and one line per problem, no stack trace', async () => {
  const dir = tempDir();
  const cfg = good();
  cfg.joints[0].effort = 'lots';
  cfg.control.rate_hz = 0;
  const file = writeConfig(dir, cfg);
  const r = await runCli(['config', 'check', file]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /STRIATUM_ERR_CONFIG/);
  assert.match(r.stderr, /^ {2}joints\[0\]\.effort: /m);
  assert.match(r.stderr, /^ {2}control\.rate_hz: /m);
  assert.doesNotMatch(r.stderr, /\n\s+at .+:\d+:\d+/); // no stack frames
});

test('striatum run with a broken config exits 2 before touching the robot', async () => {
  const dir = tempDir();
  const cfg = good();
  cfg.action.mode = 'torque';
  const r = await runCli(['run', '--config', writeConfig(dir, cfg)]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /action\.mode/);
});

test('config check passes on a good file; a missing file is a config error', async () => {
  const dir = tempDir();
  const model = writeLinearPolicy(dir);
  const ok = await runCli(['config', 'check', writeConfig(dir, simConfig(model))]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^ok: /);
  const missing = await runCli(['config', 'check', join(dir, 'nope.yaml')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read config file/);
});

test('an observation field the transport does not provide is refused, naming it', async () => {
  const dir = tempDir();
  const cfg = simConfig(writeLinearPolicy(dir));
  cfg.observation.fields[2] = 'cup_position';
  cfg.mqtt.broker = 'mqtt://127.0.0.1:1';
  const r = await runCli(['eval', '--config', writeConfig(dir, cfg), '--episodes', '1']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /observation\.fields\[2\]: "cup_position"/);
});

test('striatum schema prints JSON Schema for the config and every message', async () => {
  const r = await runCli(['schema']);
  assert.equal(r.code, 0, r.stderr);
  const all = JSON.parse(r.stdout);
  assert.equal(all.config.type, 'object');
  for (const doc of ['policy-metadata', 'prm-metadata', 'policy-manifest', 'updater-config']) {
    assert.equal(all[doc].type, 'object', doc);
    assert.equal(all[doc].title, doc, doc);
  }
  assert.ok(all['updater-config'].properties.training);
  assert.ok(all.config.properties.joints);
  for (const name of ['status', 'telemetry', 'episode', 'reward', 'cmd', 'event', 'rollout_header', 'rollout_ack', 'updater_status']) assert.equal(all.messages[name].type, 'object', name);
  const cmd = await runCli(['schema', 'cmd']);
  assert.deepEqual(JSON.parse(cmd.stdout).properties.command.enum, ['estop', 'arm', 'pause', 'resume', 'rollback']);
  for (const doc of ['policy-metadata', 'updater-config']) {
    const one = await runCli(['schema', doc]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(JSON.parse(one.stdout).title, doc);
  }
  const bad = await runCli(['schema', 'nonsense']);
  assert.equal(bad.code, 2);
});

test('every command has --help; unknown commands and flags are usage errors', async () => {
  for (const c of ['run', 'config', 'schema', 'doctor', 'record', 'eval', 'updater', 'keys', 'policy']) {
    const r = await runCli([c, '--help']);
    assert.equal(r.code, 0, c);
    assert.match(r.stdout, /^Usage: striatum /, c);
  }
  assert.equal((await runCli(['fly'])).code, 2);
  assert.equal((await runCli(['run', '--turbo'])).code, 2);
  assert.equal((await runCli(['--log-level', 'loud', 'schema'])).code, 2);
});

test('striatum doctor reports onnxruntime, serial ports, ROS 2, broker and trainer checks', async () => {
  const r = await runCli(['doctor', '--json'], { timeoutMs: 60_000 });
  const checks = JSON.parse(r.stdout) as { name: string; verdict: string; detail: string }[];
  const byName = new Map(checks.map((c) => [c.name, c]));
  for (const name of ['node', 'onnxruntime', 'config', 'mqtt broker', 'serial ports', 'ROS 2', 'python trainer']) assert.ok(byName.has(name), name);
  assert.equal(byName.get('onnxruntime')?.verdict, 'ok');
  assert.match(byName.get('onnxruntime')?.detail ?? '', /cpu/);
  assert.equal(r.code, checks.some((c) => c.verdict === 'fail') ? 1 : 0);
});

/** A shipped example copied into a temp dir, with `../models/` rewritten (or not) to the repo's models. */
function copyExample(name: string, options: { keepModelPaths?: boolean } = {}): { dir: string; file: string } {
  const dir = tempDir();
  let text = readFileSync(join(REPO, 'examples', name), 'utf8');
  if (!options.keepModelPaths) text = text.replaceAll('../models/', `${join(REPO, 'models')}/`);
  return { dir, file: writeConfig(dir, text, name) };
}

test('config check names every referenced file that is missing, with its field path (exit 2)', async () => {
  const { file } = copyExample('sim.yaml', { keepModelPaths: true });
  const r = await runCli(['config', 'check', file]);
  assert.equal(r.code, 2, r.stdout);
  assert.match(r.stderr, /STRIATUM_ERR_CONFIG/);
  assert.match(r.stderr, /^ {2}policy\.model: /m);
  assert.match(r.stderr, /^ {2}reward\.models\[0\]\.model: /m);
  assert.match(r.stderr, /^ {2}reward\.models\[1\]\.model: /m);
  const fixed = copyExample('sim.yaml');
  const ok = await runCli(['config', 'check', fixed.file]);
  assert.equal(ok.code, 0, ok.stderr);
});

test('striatum run refuses a config whose model file is missing as a config error naming the field (exit 2)', async () => {
  const { file } = copyExample('sim.yaml', { keepModelPaths: true });
  const r = await runCli(['run', '--config', file, '--fast', '--episodes', '1']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /STRIATUM_ERR_CONFIG/);
  assert.match(r.stderr, /policy\.model: /);
});

test('config check: missing metadata, PRM tokenizer and trusted key; a spool dir that cannot be created', async () => {
  const dir = tempDir();
  const cfg = simConfig(writeLinearPolicy(dir));
  cfg.policy.metadata = 'nope.json';
  cfg.policy.trusted_keys = ['keys/public.pem'];
  writeFileSync(join(dir, 'not-a-dir'), '');
  cfg.rollout = { spool_dir: 'not-a-dir/spool' };
  copyFileSync(join(REPO, 'models/push-prm/progress.onnx'), join(dir, 'progress.onnx'));
  const meta = JSON.parse(readFileSync(join(REPO, 'models/push-prm/progress.json'), 'utf8'));
  meta.text.tokenizer = 'missing-tokenizer.json';
  writeFileSync(join(dir, 'progress.json'), JSON.stringify(meta));
  cfg.reward = { models: [{ name: 'progress', kind: 'progress', model: 'progress.onnx', cameras: ['top'] }] };
  const r = await runCli(['config', 'check', writeConfig(dir, cfg)]);
  assert.equal(r.code, 2, r.stdout);
  for (const path of ['policy.metadata', 'policy.trusted_keys[0]', 'rollout.spool_dir', 'reward.models[0].metadata']) {
    assert.match(r.stderr, new RegExp(`^ {2}${path.replace(/[.[\]]/g, '\\$&')}: `, 'm'), path);
  }
  assert.match(r.stderr, /missing-tokenizer\.json/);
});

test('config check and doctor refuse transport.path auto-sim when the serial simulator is not built', async () => {
  const { file } = copyExample('serial-sim.yaml');
  const env = { STRIATUM_SBP_SIM: join(tempDir(), 'sbp_sim') };
  const r = await runCli(['config', 'check', file], { env });
  assert.equal(r.code, 2, r.stdout);
  assert.match(r.stderr, /^ {2}transport\.path: /m);
  const doctor = await runCli(['doctor', '--json', '--config', file], { env, timeoutMs: 60_000 });
  const checks = JSON.parse(doctor.stdout) as { name: string; verdict: string; detail: string }[];
  const config = checks.find((c) => c.name === 'config');
  assert.equal(config?.verdict, 'fail');
  assert.match(config?.detail ?? '', /transport\.path: /);
  assert.equal(doctor.code, 1);
});

test('the shipped examples pass their checks: robot configs with config check, the updater config with updater check', async () => {
  for (const name of ['sim.yaml', 'sim-rollouts.yaml', 'sim-learned.yaml']) {
    const r = await runCli(['config', 'check', join(REPO, 'examples', name)]);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
  }
  const updater = await runCli(['updater', 'check', join(REPO, 'examples/updater.yaml')]);
  assert.equal(updater.code, 0, updater.stderr);
  assert.match(updater.stdout, /^ok: .*training every 20 episodes/);
  const cfg = loadUpdaterConfig({ config: join(REPO, 'examples/updater.yaml') });
  const robot = parse(readFileSync(join(REPO, 'examples/sim-rollouts.yaml'), 'utf8'));
  const account = robot.mqtt.users.find((u: { username: string }) => u.username === cfg.broker.username);
  assert.deepEqual([account?.role, account?.password], ['updater', cfg.broker.password], 'the updater logs in with an account of the robot\'s embedded broker');
  assert.equal(cfg.broker.url, `mqtt://127.0.0.1:${robot.mqtt.port}`);
  // Every password the examples ship is known as a demo password, so it is refused off loopback.
  const shipped = [cfg.broker.password, ...['sim.yaml', 'sim-rollouts.yaml', 'serial-sim.yaml']
    .flatMap((name) => parse(readFileSync(join(REPO, 'examples', name), 'utf8')).mqtt.users.map((u: { password: string }) => u.password))];
  for (const password of shipped) assert.ok(DEMO_PASSWORDS.includes(password), password);
});

test('updater check names the field of a missing training policy or release key; config check points updater files to it', async () => {
  const dir = tempDir();
  const file = writeConfig(dir, {
    broker: { url: 'mqtt://127.0.0.1:1883' }, store: { path: 'episodes.sqlite' },
    training: { enabled: true, base_policy_dir: 'no-policy', out_dir: 'rounds' }, release: { key: 'keys/private.pem' },
  }, 'updater.yaml');
  const r = await runCli(['updater', 'check', file]);
  assert.equal(r.code, 2, r.stdout);
  assert.match(r.stderr, /STRIATUM_ERR_CONFIG/);
  assert.match(r.stderr, /^ {2}training\.base_policy_dir: /m);
  assert.match(r.stderr, /^ {2}release\.key: /m);
  const schema = await runCli(['updater', 'check', writeConfig(dir, { store: { path: 'x.sqlite' }, training: { enabled: true } }, 'bad.yaml')]);
  assert.equal(schema.code, 2);
  assert.match(schema.stderr, /^ {2}training\.base_policy_dir: /m);
  const asRobot = await runCli(['config', 'check', file]);
  assert.equal(asRobot.code, 2);
  assert.match(asRobot.stderr, /striatum updater check/);
});

test('the shipped robot config with rollouts and the shipped updater config connect: a chunk is stored', async () => {
  const dir = tempDir();
  const port = await freePort();
  const local = (text: string) => text
    .replaceAll('../models/', `${join(REPO, 'models')}/`)
    .replaceAll('../data/', `${join(dir, 'data')}/`)
    .replaceAll('127.0.0.1:1883', `127.0.0.1:${port}`);
  const robotText = local(readFileSync(join(REPO, 'examples/sim-rollouts.yaml'), 'utf8'))
    .replace(/^ {2}port: 1883$/m, `  port: ${port}`).replace(/^ {2}ws_port: 9001$/m, '  ws_port: null');
  assert.match(robotText, new RegExp(`port: ${port}`));
  const robotFile = writeConfig(dir, robotText, 'sim-rollouts.yaml');
  const updaterFile = writeConfig(dir, local(readFileSync(join(REPO, 'examples/updater.yaml'), 'utf8')), 'updater.yaml');
  const robot = startCli(['run', '--config', robotFile, '--fast']);
  const updater = startCli(['updater', 'run', '--config', updaterFile]);
  const store = join(dir, 'data/episodes.sqlite');
  let exited = '';
  void robot.exited.then((code) => { exited += `robot exited ${code}: ${JSON.stringify(robot.logs().slice(-3))}\n`; });
  void updater.exited.then((code) => { exited += `updater exited ${code}: ${JSON.stringify(updater.logs().slice(-3))}\n`; });
  try {
    const chunks = await waitFor('a stored chunk', () => {
      if (exited !== '') throw new Error(exited);
      if (!existsSync(store)) return false;
      const db = new Database(store, { readonly: true, fileMustExist: true });
      try {
        const { n } = db.prepare('SELECT COUNT(*) AS n FROM chunks WHERE robot = ?').get('sim-pusher-1') as { n: number };
        return n > 0 ? n : false;
      } catch {
        return false; // the updater has not created its tables yet
      } finally {
        db.close();
      }
    }, 60_000);
    assert.ok(chunks >= 1);
  } finally {
    robot.child.kill('SIGTERM');
    updater.child.kill('SIGTERM');
    await Promise.all([robot.exited, updater.exited]);
  }
});

/** Billion laughs: nine levels of nine aliases each. */
function aliasBomb(): string {
  const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 9; i++) lines.push(`a${i}: &a${i} [${new Array(9).fill(`*a${i - 1}`).join(', ')}]`);
  return `${lines.join('\n')}\n`;
}

test('a YAML alias bomb is a config error (exit 2), not an internal error, for robot and updater configs', async () => {
  const lines = problemsOf(aliasBomb());
  assert.ok(lines.some((l) => /alias/i.test(l)), lines.join('\n'));
  const dir = tempDir();
  const robot = await runCli(['config', 'check', writeConfig(dir, aliasBomb())]);
  assert.equal(robot.code, 2, robot.stderr);
  assert.match(robot.stderr, /STRIATUM_ERR_CONFIG/);
  const updater = await runCli(['updater', 'check', writeConfig(dir, `store: { path: x.sqlite }\n${aliasBomb()}`, 'updater.yaml')]);
  assert.equal(updater.code, 2, updater.stderr);
  assert.match(updater.stderr, /STRIATUM_ERR_CONFIG/);
});

test('observation normalization whose length differs from the observation is refused, naming the field', async () => {
  const cfg = good();
  cfg.observation.normalization = { mean: [0, 0, 0], std: [1, 1, 1] };
  const short = problemsOf(cfg);
  assert.ok(short.some((l) => l.startsWith('observation.normalization.mean: ')), short.join('\n'));
  const joints = good();
  joints.observation.fields = ['joint_positions', 'joint_velocities'];
  joints.observation.normalization = { mean: new Array(5).fill(0), std: new Array(5).fill(1) };
  assert.ok(problemsOf(joints).some((l) => l.startsWith('observation.normalization.mean: ')), 'two joints × two fields = 4, not 5');
  joints.observation.normalization = { mean: new Array(4).fill(0), std: new Array(4).fill(1) };
  assert.deepEqual(problemsOf(joints), []);

  // Extra fields' sizes come from the transport: the sim's are known at check time, any transport's at start-up.
  const dir = tempDir();
  const long = simConfig(writeLinearPolicy(dir));
  long.observation.normalization = { mean: new Array(500_000).fill(0), std: new Array(500_000).fill(1) };
  const check = await runCli(['config', 'check', writeConfig(dir, long, 'long.yaml')]);
  assert.equal(check.code, 2, check.stdout);
  assert.match(check.stderr, /^ {2}observation\.normalization\.mean: /m);
  const nine = simConfig(writeLinearPolicy(dir));
  nine.observation.normalization = { mean: new Array(9).fill(0), std: new Array(9).fill(1) };
  nine.mqtt.broker = 'mqtt://127.0.0.1:1';
  const run = await runCli(['eval', '--config', writeConfig(dir, nine, 'nine.yaml'), '--episodes', '1']);
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /STRIATUM_ERR_CONFIG/);
  assert.match(run.stderr, /^ {2}observation\.normalization\.mean: /m);
});

test('robot ids that are topic namespaces (policy, updater) are refused', () => {
  for (const id of ['policy', 'updater']) {
    const cfg = good();
    cfg.robot.id = id;
    assert.ok(problemsOf(cfg).some((l) => l.startsWith('robot.id: ')), id);
    const user = good();
    user.mqtt.users.push({ username: 'robot-2', password: 'robot-2-pass', role: 'robot', robot: id });
    assert.ok(problemsOf(user).some((l) => l.startsWith('mqtt.users[2].robot: ')), `users robot ${id}`);
  }
});

test('a duplicate mqtt.users username, or one equal to the robot\'s own, is refused', async () => {
  const dup = good();
  dup.mqtt.users.push({ username: 'operator', password: 'another-pass', role: 'viewer' });
  assert.ok(problemsOf(dup).some((l) => l.startsWith('mqtt.users[2].username: ')), problemsOf(dup).join('\n'));
  const own = good();
  own.mqtt.users[0].username = own.robot.id;
  assert.ok(problemsOf(own).some((l) => l.startsWith('mqtt.users[0].username: ')), problemsOf(own).join('\n'));
  const named = good();
  named.mqtt.username = 'robot-login';
  named.mqtt.users[1].username = 'robot-login';
  assert.ok(problemsOf(named).some((l) => l.startsWith('mqtt.users[1].username: ')), problemsOf(named).join('\n'));
  const r = await runCli(['config', 'check', writeConfig(tempDir(), dup)]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /STRIATUM_ERR_CONFIG/);
});

test('a shipped demo password is refused when the embedded broker listens beyond loopback', async () => {
  for (const host of ['0.0.0.0', '192.168.1.20', '::']) {
    const cfg = good();
    cfg.mqtt.host = host;
    cfg.mqtt.users[0].password = 'striatum-demo';
    assert.ok(problemsOf(cfg).some((l) => l.startsWith('mqtt.users[0].password: ')), host);
  }
  const updater = good();
  updater.mqtt.host = '0.0.0.0';
  updater.mqtt.users.push({ username: 'updater', password: 'striatum-demo-updater', role: 'updater' });
  assert.ok(problemsOf(updater).some((l) => l.startsWith('mqtt.users[2].password: ')));
  for (const host of ['127.0.0.1', 'localhost', '::1']) {
    const loopback = good();
    loopback.mqtt.host = host;
    loopback.mqtt.users[0].password = 'striatum-demo';
    assert.deepEqual(problemsOf(loopback), [], host);
  }
  const dir = tempDir();
  const open = simConfig(writeLinearPolicy(dir));
  open.mqtt.host = '0.0.0.0';
  open.mqtt.users[0].password = 'striatum-demo';
  const r = await runCli(['config', 'check', writeConfig(dir, open)]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^ {2}mqtt\.users\[0\]\.password: /m);
});

test('a learn config whose demonstration or training seeds reach into the evaluation seeds is refused, naming the field', () => {
  const shipped = parse(readFileSync(join(REPO, 'examples/learn.yaml'), 'utf8'));
  const dir = tempDir('learn-seeds');
  const problems = (changes: Record<string, any>): string[] => {
    const file = join(dir, 'learn.yaml');
    writeFileSync(file, JSON.stringify({ ...shipped, ...changes }));
    try {
      loadLearnConfig(file);
    } catch (err) {
      assert.ok(isStriatumError(err, 'STRIATUM_ERR_CONFIG'), String(err));
      return [...err.details];
    }
    return [];
  };
  assert.deepEqual(problems({}), []);
  const demos = problems({ demonstrations: { episodes: 3, first_seed: 8_999_999 } });
  assert.equal(demos.length, 1);
  assert.match(demos[0], /^demonstrations\.first_seed: demonstration seeds 8999999–9000001 overlap the evaluation seeds 9000000–9000199/);
  const evaluation = problems({ evaluation: { episodes: 200, first_seed: 2_000_050 } });
  assert.equal(evaluation.length, 1);
  assert.match(evaluation[0], /^evaluation\.first_seed: evaluation seeds 2000050–2000249 overlap run 0's training seeds/);
});

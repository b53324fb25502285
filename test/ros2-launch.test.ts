// The ROS 2 launch files parse (Python with ast, XML with a parser), declare the arguments the docs promise,
// and pass the striatum CLI only flags it has: each --flag they write is one `striatum run --help` lists.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO } from './helpers/fixtures.js';
import { requirePython } from './helpers/required-tools.js';

const LAUNCH = join(REPO, 'launch');
const CLI = join(REPO, 'dist', 'src', 'cli', 'main.js');
const runHelp = execFileSync(process.execPath, [CLI, 'run', '--help'], { encoding: 'utf8' });
const mainHelp = execFileSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });

/** Declared arguments and every string constant of a Python launch file, read with Python's own parser. */
function readPythonLaunch(file: string): { args: string[]; strings: string[] } {
  const python = requirePython([]);
  const script = [
    'import ast, json, sys',
    'tree = ast.parse(open(sys.argv[1]).read(), sys.argv[1])',
    'args, strings = [], []',
    'for node in ast.walk(tree):',
    '    if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "DeclareLaunchArgument":',
    '        args.append(node.args[0].value)',
    '    if isinstance(node, ast.Constant) and isinstance(node.value, str):',
    '        strings.append(node.value)',
    'print(json.dumps({"args": args, "strings": strings}))',
  ].join('\n');
  return JSON.parse(execFileSync(python, ['-c', script, file], { encoding: 'utf8' })) as { args: string[]; strings: string[] };
}

/** The --flags a launch file passes to striatum (not those it passes to other programs' own command lines). */
function striatumFlags(strings: string[]): string[] {
  return strings.flatMap((s) => s.match(/--[a-z][a-z-]*/g) ?? []);
}

function assertFlagsExist(flags: string[], where: string): void {
  for (const flag of flags) assert.ok(runHelp.includes(flag) || mainHelp.includes(flag), `${where} passes ${flag}, which striatum does not have`);
}

test('launch/striatum.launch.py: config, robot_id, namespace, log_level and striatum arguments; every flag it passes exists', () => {
  const { args, strings } = readPythonLaunch(join(LAUNCH, 'striatum.launch.py'));
  assert.deepEqual(args.sort(), ['config', 'log_level', 'namespace', 'robot_id', 'striatum']);
  const flags = striatumFlags(strings);
  assert.deepEqual([...new Set(flags)].sort(), ['--config', '--log-format', '--log-level', '--robot-id', '--ros-namespace']);
  assertFlagsExist(flags, 'striatum.launch.py');
});

test('launch/striatum.launch.xml parses and passes the same arguments and flags', () => {
  const python = requirePython([]);
  const script = [
    'import json, sys, xml.etree.ElementTree as ET',
    'root = ET.parse(sys.argv[1]).getroot()',
    'print(json.dumps({"root": root.tag, "args": [a.get("name") for a in root.iter("arg")], "cmd": [e.get("cmd") for e in root.iter("executable")]}))',
  ].join('\n');
  const xml = JSON.parse(execFileSync(python, ['-c', script, join(LAUNCH, 'striatum.launch.xml')], { encoding: 'utf8' })) as { root: string; args: string[]; cmd: string[] };
  assert.equal(xml.root, 'launch');
  assert.deepEqual(xml.args.sort(), ['config', 'log_level', 'namespace', 'robot_id', 'striatum']);
  assert.equal(xml.cmd.length, 1);
  assertFlagsExist(striatumFlags(xml.cmd), 'striatum.launch.xml');
  assert.match(xml.cmd[0], /--robot-id=\$\(var robot_id\)/);
});

test('the example launch files parse, include striatum.launch.py with arguments it declares, and their files exist', () => {
  const declared = readPythonLaunch(join(LAUNCH, 'striatum.launch.py')).args;
  for (const name of ['example_ros2_control.launch.py', 'example_cyclonedds_peer.launch.py']) {
    const text = readFileSync(join(LAUNCH, name), 'utf8');
    readPythonLaunch(join(LAUNCH, name)); // parses
    const passed = [...text.matchAll(/"([a-z_]+)": LaunchConfiguration|"(config|log_level|robot_id|namespace)":/g)].map((m) => m[1] ?? m[2]);
    for (const arg of passed) assert.ok(declared.includes(arg), `${name} passes ${arg}, which striatum.launch.py does not declare`);
  }
  for (const file of ['example_arm.urdf', 'example_controllers.yaml']) assert.ok(readdirSync(LAUNCH).includes(file), file);
  const controllers = readFileSync(join(LAUNCH, 'example_controllers.yaml'), 'utf8');
  assert.match(controllers, /forward_command_controller\/ForwardCommandController/);
  const example = readFileSync(join(REPO, 'examples', 'ros2-peer.yaml'), 'utf8');
  assert.match(example, /controller: forward_velocity_controller/);
});

test('a bad --robot-id or a --ros-namespace on a non-ROS transport is a usage error (exit 2)', () => {
  const r = (args: string[]) => { try { execFileSync(process.execPath, [CLI, 'run', ...args], { stdio: 'pipe' }); return 0; } catch (e) { return (e as { status: number }).status; } };
  assert.equal(r(['--config', join(REPO, 'examples', 'ros2-peer.yaml'), '--robot-id', 'no spaces allowed']), 2);
  assert.equal(r(['--config', join(REPO, 'examples', 'sim.yaml'), '--ros-namespace', '/arm1']), 2);
});

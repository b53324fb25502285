import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { loadConfig } from '../config/load.js';
import { preflightProblems } from '../config/preflight.js';
import { isStriatumError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Command } from './flags.js';
import { parseFlags } from './flags.js';
import { DEFAULT_CONFIG } from './default-config.js';

type Verdict = 'ok' | 'warn' | 'fail';
interface Check { name: string; verdict: Verdict; detail: string }

function run(cmd: string, args: string[], timeoutMs = 20000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

function tcpReachable(host: string, port: number, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean) => { s.destroy(); resolve(ok); };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** serialport's list() needs udev; fall back to the device names Linux gives serial adapters and Jetson UARTs. */
async function serialPorts(): Promise<Check> {
  try {
    const { SerialPort } = await import('serialport');
    const ports = await SerialPort.list();
    return { name: 'serial ports', verdict: 'ok', detail: ports.length === 0 ? 'none found' : ports.map((p) => `${p.path}${p.manufacturer ? ` (${p.manufacturer})` : ''}`).join(', ') };
  } catch {
    let names: string[] = [];
    try {
      names = readdirSync('/dev').filter((n) => /^tty(ACM|USB|AMA|THS|S)\d+$/.test(n) && !/^ttyS\d+$/.test(n));
    } catch { /* no /dev: not Linux */ }
    return { name: 'serial ports', verdict: 'ok', detail: names.length === 0 ? 'none found (udev unavailable; looked for /dev/ttyACM*, ttyUSB*, ttyAMA*, ttyTHS*)' : names.map((n) => `/dev/${n}`).join(', ') };
  }
}

/**
 * Both ROS 2 backends, tried for real: rclnodejs is imported, the Cyclone DDS bridge is started and creates a
 * participant. "ROS 2" says which one backend auto would use; it fails when the config's ros2 transport
 * needs a backend that does not work here.
 */
async function ros2Checks(transport: { backend: string; bridge: string | null } | null): Promise<Check[]> {
  const { loadRclnodejs } = await import('../transports/ros2/rclnodejs-backend.js');
  const { CycloneDdsBackend, defaultBridgeBinary } = await import('../transports/ros2/cyclonedds-backend.js');
  const { silentLogger } = await import('../log.js');
  const rcl = await loadRclnodejs();
  const rclOk = 'module' in rcl;
  const rclCheck: Check = rclOk
    ? { name: 'ROS 2 rclnodejs', verdict: 'ok', detail: `ROS_DISTRO=${process.env.ROS_DISTRO}, rclnodejs loads: Striatum can be a ROS node` }
    : { name: 'ROS 2 rclnodejs', verdict: 'warn', detail: `not usable: ${rcl.why}; needs a sourced ROS 2 and npm install rclnodejs` };
  const binary = transport?.bridge ?? defaultBridgeBinary();
  const domain = Number(process.env.ROS_DOMAIN_ID ?? 0);
  const bridge = new CycloneDdsBackend({ nodeName: 'striatum_doctor', namespace: '', domainId: Number.isInteger(domain) ? domain : 0, binary, logger: silentLogger });
  let cycloneCheck: Check;
  try {
    const identity = await bridge.open();
    cycloneCheck = { name: 'ROS 2 cyclonedds', verdict: 'ok', detail: `${binary} starts: ${identity}` };
  } catch (err) {
    const details = isStriatumError(err) && err.details.length > 0 ? ` (${err.details[0]})` : '';
    cycloneCheck = { name: 'ROS 2 cyclonedds', verdict: 'warn', detail: `not usable: ${(err as Error).message}${details}` };
  } finally {
    await bridge.close();
  }
  const cycloneOk = cycloneCheck.verdict === 'ok';
  const auto = rclOk ? 'rclnodejs' : cycloneOk ? 'cyclonedds' : null;
  const wanted = transport === null ? null : transport.backend === 'auto' ? auto : transport.backend;
  const wantedWorks = wanted === 'rclnodejs' ? rclOk : wanted === 'cyclonedds' ? cycloneOk : false;
  const summary: Check = transport !== null && !wantedWorks
    ? { name: 'ROS 2', verdict: 'fail', detail: `the config's transport.backend ${transport.backend} has no working backend here${wanted !== null ? ` (${wanted})` : ''}` }
    : { name: 'ROS 2', verdict: auto !== null ? 'ok' : 'warn', detail: auto !== null ? `backend auto uses ${auto}` : 'no ROS 2 backend works here (the sim and serial transports do not need one)' };
  return [summary, rclCheck, cycloneCheck];
}

async function checks(configFile: string): Promise<Check[]> {
  const out: Check[] = [];
  let ros2Config: { backend: string; bridge: string | null } | null = null;
  const major = Number(process.versions.node.split('.')[0]);
  out.push({ name: 'node', verdict: major >= 20 ? 'ok' : 'fail', detail: `v${process.versions.node} on ${process.platform}-${process.arch}` });

  try {
    const ort = (await import('onnxruntime-node')).default;
    const backends = ort.listSupportedBackends().map((b) => `${b.name}${b.bundled ? '' : ' (not bundled)'}`);
    out.push({ name: 'onnxruntime', verdict: 'ok', detail: `${ort.env.versions?.common ?? ''} providers: ${backends.join(', ')}` });
    if (process.arch === 'arm64') out.push({ name: 'onnxruntime gpu', verdict: 'warn', detail: 'the npm build for linux-arm64 is CPU-only; Jetson GPU needs ONNX Runtime built with CUDA/TensorRT' });
  } catch (err) {
    out.push({ name: 'onnxruntime', verdict: 'fail', detail: `onnxruntime-node does not load: ${(err as Error).message.split('\n')[0]}` });
  }

  try {
    const loaded = loadConfig(configFile);
    const { config } = loaded;
    if (config.transport.kind === 'ros2') ros2Config = { backend: config.transport.backend, bridge: config.transport.bridge };
    const problems = await preflightProblems(loaded);
    out.push(problems.length === 0
      ? { name: 'config', verdict: 'ok', detail: `${configFile}: robot ${config.robot.id}, transport ${config.transport.kind}` }
      : { name: 'config', verdict: 'fail', detail: `${configFile}: ${problems.join('; ')}` });
    if (config.mqtt.broker === 'embedded') {
      const busy = await tcpReachable(config.mqtt.host, config.mqtt.port, 500);
      out.push({ name: 'mqtt broker', verdict: busy ? 'warn' : 'ok', detail: busy ? `port ${config.mqtt.port} is already in use: the embedded broker will not start (another striatum or a Mosquitto?)` : `embedded broker can listen on ${config.mqtt.host}:${config.mqtt.port}` });
    } else {
      const u = new URL(config.mqtt.broker);
      const port = Number(u.port || (u.protocol === 'mqtts:' ? 8883 : 1883));
      const ok = await tcpReachable(u.hostname, port);
      out.push({ name: 'mqtt broker', verdict: ok ? 'ok' : 'fail', detail: `${config.mqtt.broker} ${ok ? 'reachable' : 'not reachable'}` });
    }
  } catch (err) {
    const details = isStriatumError(err) && err.details.length > 0 ? `: ${err.details.join('; ')}` : '';
    out.push({ name: 'config', verdict: 'fail', detail: `${configFile}: ${(err as Error).message}${details}` });
  }

  out.push(await serialPorts());

  out.push(...await ros2Checks(ros2Config));

  const py = await run('/usr/bin/python3', ['-c', 'import torch, onnx, numpy, json; torch.ones(64, 64) @ torch.ones(64, 64); print(json.dumps({"torch": torch.__version__, "onnx": onnx.__version__, "numpy": numpy.__version__, "blas": ("openblas" if "openblas" in open("/proc/self/maps").read() else "reference")}))']);
  if (py.code === 0) {
    const v = JSON.parse(py.stdout.trim()) as Record<string, string>;
    out.push({ name: 'python trainer', verdict: v.blas === 'openblas' ? 'ok' : 'warn', detail: `torch ${v.torch}, onnx ${v.onnx}, numpy ${v.numpy}, BLAS ${v.blas}${v.blas === 'openblas' ? '' : ' (install libopenblas0-pthread: reference BLAS trains about 7x slower)'}` });
  } else {
    out.push({ name: 'python trainer', verdict: 'warn', detail: 'trainer dependencies missing (only needed off-robot): apt install python3-torch python3-onnx python3-numpy libopenblas0-pthread' });
  }
  return out;
}

export const doctorCommand: Command = {
  summary: 'check this machine: onnxruntime, serial ports, ROS 2 (both backends), broker, Python trainer',
  help: `Usage: striatum doctor [--config FILE] [--json]

Checks what Striatum needs on this machine and prints one line per check (ok / warn / fail).
With --config, the config line fails when striatum run would refuse the file (schema, or a file it names
missing, such as the serial host simulator for transport.path auto-sim), naming the field path.
Exits 1 when a check fails.`,
  async run(args, _logger: Logger) {
    const { values } = parseFlags(args, { config: { type: 'string' }, json: { type: 'boolean' } });
    const results = await checks(values.config ?? DEFAULT_CONFIG);
    if (values.json) {
      process.stdout.write(`${JSON.stringify(results)}\n`);
    } else {
      for (const c of results) process.stdout.write(`${c.verdict.toUpperCase().padEnd(5)} ${c.name.padEnd(16)} ${c.detail}\n`);
    }
    return results.some((c) => c.verdict === 'fail') ? 1 : 0;
  },
};

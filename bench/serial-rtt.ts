// bench/serial-rtt: the serial transport over a pty against firmware-bridge's host simulator, beside baselines
// measured in the same run. Prints one JSON object:
//   - like with like: command → state round trip with the simulator in echo mode (sbp_sim --reply echo: each
//     COMMAND gets its STATE at once, not at the next control tick), from Striatum's SerialTransport and from a
//     C host (bench/c/sim_rtt_client.c) on the same kind of pty, same rate, same joints; their p50/p99 ratio; and
//     between them bare Node (a tty stream and writeSync, no transport), the floor for any host on Node;
//   - the round trip as a robot sees it: the simulator answering at its next control tick (500 Hz), so up to one
//     tick period is part of what is measured;
//   - C ↔ C immediate echo over a bare pty (firmware-bridge/bench/c_echo_rtt): the floor for any host;
//   - frames/s at saturation: COMMANDs written back to back to the simulator; STATEs poured into a socat pty pair
//     by `cat` and read by serialport + the decoder; and the codec alone in memory;
//   - bytes on the wire per COMMAND and per STATE beside MAVLink 2 (12 B overhead) and Dynamixel 2.0 (10 B).
// Usage: node dist/bench/serial-rtt.js [--seconds S] [--rate HZ] [--joints N]
// Needs firmware-bridge/build/sbp_sim, libsbp.a and c_echo_rtt (cmake -S firmware-bridge -B firmware-bridge/build
// && cmake --build firmware-bridge/build), or STRIATUM_SBP_SIM for the simulator, and `cc` for the C host.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ReadStream } from 'node:tty';
import { closeSync, constants as fsConstants, openSync, writeSync } from 'node:fs';
import { SerialPort } from 'serialport';
import { LatencyHistogram } from '../src/util/histogram.js';
import { RealtimeClock } from '../src/control/scheduler.js';
import { silentLogger } from '../src/log.js';
import { FrameDecoder, RX_FRAME } from '../src/transports/serial/frame-decoder.js';
import { decodeStateInto, encodeCommand, encodeMessage, SbpState } from '../src/transports/serial/messages.js';
import { PayloadReader } from '../src/transports/serial/payload-reader.js';
import { SBP_MAX_FRAME } from '../src/transports/serial/protocol.js';
import { SerialTransport } from '../src/transports/serial/serial-transport.js';
import { readSchemaHash } from '../src/transports/serial/schema-hash.js';
import { SbpSimulator, defaultSimulatorBinary, type SbpSimEvent } from '../src/transports/serial/sim-process.js';
import type { JointCommand, JointState } from '../src/transports/types.js';
import { benchArgs } from './bench-args.js';

const values = benchArgs(import.meta.url, { seconds: { type: 'string' }, rate: { type: 'string' }, joints: { type: 'string' } });
const SECONDS = Number(values.seconds ?? 10);
const RATE = Number(values.rate ?? 500);
const JOINTS = Number(values.joints ?? 6);
const SIM = defaultSimulatorBinary();
const C_ECHO = join(dirname(SIM), 'c_echo_rtt');
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The simulator's own tick in echo mode: slower than the commands, so it only keeps STATEs coming between them. */
const ECHO_SIM_ARGS = ['--reply', 'echo', '--rate', '100'];
const names = Array.from({ length: JOINTS }, (_, i) => `j${i}`);
const round = (v: number) => Math.round(v * 10) / 10;
const summary = (h: LatencyHistogram) => ({ p50_us: round(h.quantile(0.5)), p99_us: round(h.quantile(0.99)), max_us: round(h.max), count: h.count });

function jointState(): JointState {
  return { stampMs: 0, positions: new Float64Array(JOINTS), velocities: new Float64Array(JOINTS), efforts: new Float64Array(JOINTS), extras: {} };
}

async function withSimulator<T>(simArgs: readonly string[], body: (t: SerialTransport, sim: SbpSimulator) => Promise<T>): Promise<T & { simulator: Record<string, unknown> }> {
  const sim = await SbpSimulator.start({ binary: SIM, args: ['--joints', String(JOINTS), '--watchdog-ms', '100', ...simArgs] });
  const t = new SerialTransport({
    path: sim.ptyPath, baud: 1_000_000, jointNames: names, controlHz: RATE, handshakeTimeoutMs: 2000, linkTimeoutMs: 200,
    watchdogMs: 100, safeMode: 'hold', reconnectInitialMs: 100, reconnectMaxMs: 1000, logger: silentLogger,
  });
  try {
    await t.open();
    const result = await body(t, sim);
    await t.close();
    await sim.stop();
    const exit = sim.events.find((e: SbpSimEvent) => e.event === 'exit') ?? {};
    const { event: _e, mcu_us: _m, ...counters } = exit as Record<string, unknown>;
    return { ...result, simulator: { args: simArgs.join(' '), ...counters } };
  } finally {
    await t.close();
    await sim.stop();
  }
}

/** Commands paced at RATE on absolute deadlines for SECONDS; the transport times each round trip. */
async function pacedRtt(simArgs: readonly string[]) {
  return withSimulator(simArgs, async (t) => {
    const clock = new RealtimeClock(400);
    const state = jointState();
    const command: JointCommand = { mode: 'position', targets: new Float64Array(JOINTS) };
    const period = 1000 / RATE;
    const lateness = new LatencyHistogram();
    // Warm up until armed (a healthy stream first), then measure from a clean histogram.
    let deadline = clock.now();
    for (let i = 0; i < RATE; i++) {
      deadline += period;
      await clock.sleepUntil(deadline);
      t.readState(state);
      t.writeCommand(command);
    }
    t.rtt.histogram.reset();
    const before = { ...t.stats() };
    const ticks = Math.round(SECONDS * RATE);
    let skipped = 0;
    deadline = clock.now();
    for (let i = 0; i < ticks; i++) {
      deadline += period;
      await clock.sleepUntil(deadline);
      const late = clock.now() - deadline;
      lateness.record(late * 1000);
      if (late > period) {
        // Like the control loop: skip the missed periods instead of bursting commands to catch up.
        const missed = Math.floor(late / period);
        skipped += missed;
        deadline += missed * period;
      }
      t.readState(state);
      for (let j = 0; j < JOINTS; j++) command.targets[j] = 0.2 * Math.sin(i * 0.01 + j);
      t.writeCommand(command);
    }
    const after = t.stats();
    const seconds = (clock.now() - (deadline - ticks * period)) / 1000;
    return {
      rtt: summary(t.rtt.histogram),
      frames_per_s: Math.round((after.framesOut - before.framesOut + after.framesIn - before.framesIn) / seconds),
      commands: after.framesOut - before.framesOut,
      states: after.framesIn - before.framesIn,
      dropped_frames: after.droppedFrames - before.droppedFrames,
      crc_errors: after.crcErrors - before.crcErrors,
      watchdog_trips: after.watchdogTrips - before.watchdogTrips,
      host_wakeup_lateness: summary(lateness),
      skipped_periods: skipped,
    };
  });
}

/** Bare Node against the echo simulator: a tty stream for reads, writeSync for writes, the decoder, nothing else
 * (no transport, no arming), paced like the C host: what any Node host pays for the event loop. */
async function bareNodeRtt(simArgs: readonly string[]) {
  const sim = await SbpSimulator.start({ binary: SIM, args: ['--joints', String(JOINTS), '--watchdog-ms', '100', ...simArgs] });
  const port = new SerialPort({ path: sim.ptyPath, baudRate: 1_000_000, autoOpen: false }); // termios, as the link does
  await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
  const fd = openSync(sim.ptyPath, fsConstants.O_RDWR | fsConstants.O_NOCTTY | fsConstants.O_NONBLOCK);
  const stream = new ReadStream(fd);
  const dec = new FrameDecoder();
  const reader = new PayloadReader();
  const state = new SbpState();
  const rtt = new LatencyHistogram();
  let waitingSeq = -1;
  let sentMs = 0;
  let onAck: (() => void) | null = null;
  stream.on('data', (chunk: Buffer) => {
    const now = performance.now();
    dec.feed(chunk);
    for (let rx = dec.next(); rx !== 0; rx = dec.next()) {
      if (rx !== RX_FRAME) continue;
      if (dec.type === 0x02 && onAck !== null) onAck();
      else if (dec.type === 0x11 && decodeStateInto(reader, dec.body, dec.payloadOffset, dec.payloadLength, state) === 0 && state.lastCommandSeq === waitingSeq) {
        rtt.record((now - sentMs) * 1000);
        waitingSeq = -1;
      }
    }
  });
  const wire = Buffer.alloc(SBP_MAX_FRAME);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no HELLO_ACK')), 2000);
      onAck = () => { clearTimeout(timer); onAck = null; resolve(); };
      writeSync(fd, wire, 0, encodeMessage({ type: 'HELLO', seq: 0, protocolVersion: 1, schemaHash: readSchemaHash() }, wire));
    });
    const clock = new RealtimeClock(400);
    const targets = new Float64Array(JOINTS);
    const period = 1000 / RATE;
    const warm = 200;
    const ticks = Math.round(SECONDS * RATE);
    let deadline = clock.now();
    for (let i = 0; i < warm + ticks; i++) {
      deadline += period;
      await clock.sleepUntil(deadline);
      if (clock.now() - deadline > period) deadline += Math.floor((clock.now() - deadline) / period) * period;
      if (i === warm) rtt.reset();
      const seq = (i + 1) & 0xffff;
      const len = encodeCommand(seq, 0, targets, JOINTS, wire, 0);
      waitingSeq = seq;
      sentMs = performance.now();
      writeSync(fd, wire, 0, len);
    }
    return { rtt: summary(rtt) };
  } catch (err) {
    return { error: (err as Error).message };
  } finally {
    stream.destroy();
    try { closeSync(fd); } catch { /* the stream had it */ }
    await new Promise<void>((resolve) => port.close(() => resolve()));
    await sim.stop();
  }
}

/** The C host (bench/c/sim_rtt_client.c) against its own simulator started with the same arguments. */
async function cHostRtt(simArgs: readonly string[]): Promise<Record<string, unknown>> {
  const out = mkdtempSync(join(tmpdir(), 'striatum-serial-bench-'));
  const bin = join(out, 'sim_rtt_client');
  let sim: SbpSimulator | null = null;
  try {
    const lib = join(dirname(SIM), 'libsbp.a');
    execFileSync('cc', ['-O2', '-std=c99', '-I', join(ROOT, 'firmware-bridge/include'), '-o', bin, join(ROOT, 'bench/c/sim_rtt_client.c'), lib]);
    sim = await SbpSimulator.start({ binary: SIM, args: ['--joints', String(JOINTS), '--watchdog-ms', '100', ...simArgs] });
    const count = Math.round(SECONDS * RATE);
    const child = spawn(bin, [sim.ptyPath, '--joints', String(JOINTS), '--rate', String(RATE), '--count', String(count)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout!.on('data', (d: Buffer) => { text += d.toString(); });
    await new Promise((resolve) => child.once('close', resolve));
    const result = JSON.parse(text) as Record<string, unknown>;
    const seconds = Number(result.seconds);
    return { ...result, frames_per_s: seconds > 0 ? Math.round((2 * Number(result.commands)) / seconds) : null, simulator: { args: simArgs.join(' ') } };
  } catch (err) {
    return { error: `C host unavailable: ${(err as Error).message.split('\n')[0]}` };
  } finally {
    await sim?.stop();
    rmSync(out, { recursive: true, force: true });
  }
}

function cEcho(): unknown {
  if (!existsSync(C_ECHO)) return { error: `${C_ECHO} not built (cmake --build firmware-bridge/build --target c_echo_rtt)` };
  try {
    const count = Math.min(5000, Math.round(SECONDS * RATE));
    return JSON.parse(execFileSync(C_ECHO, ['--joints', String(JOINTS), '--rate', String(RATE), '--count', String(count)]).toString());
  } catch (err) {
    return { error: (err as Error).message.split('\n')[0] };
  }
}

/** COMMANDs written as fast as the transport accepts them (it drops when 8 writes are in flight) for 2 s. */
async function saturateCommands() {
  return withSimulator(['--rate', '500'], async (t) => {
    const command: JointCommand = { mode: 'position', targets: new Float64Array(JOINTS) };
    const before = { ...t.stats() };
    const t0 = performance.now();
    let calls = 0;
    while (performance.now() - t0 < 2000) {
      t.writeCommand(command);
      calls++;
      if ((calls & 7) === 0) await new Promise((r) => setImmediate(r)); // let write completions run
    }
    await new Promise((r) => setTimeout(r, 100));
    const s = (performance.now() - t0) / 1000;
    const after = t.stats();
    return {
      seconds: round(s),
      write_calls_per_s: Math.round(calls / s),
      commands_written_per_s: Math.round((after.framesOut - before.framesOut) / s),
      commands_dropped_queue_full_per_s: Math.round((after.droppedFrames - before.droppedFrames) / s),
    };
  });
}

/** STATE frames poured into one end of a socat pty pair by `cat`, as fast as the kernel takes them; serialport
 * and the streaming decoder read the other end. What the host's receive path sustains. */
async function saturateStates() {
  const dir = mkdtempSync(join(tmpdir(), 'striatum-serial-bench-'));
  const file = join(dir, 'states.bin');
  const wire = new Uint8Array(SBP_MAX_FRAME);
  const vals = Array.from({ length: JOINTS }, (_, i) => 0.1 * i - 0.3);
  const len = encodeMessage({ type: 'STATE', seq: 1, mcuTimeUs: 123456789n, flags: 0x61, lastCommandSeq: 7, positions: vals, velocities: vals, efforts: vals }, wire);
  const frames = Buffer.alloc(len * 2000);
  for (let i = 0; i < 2000; i++) frames.set(wire.subarray(0, len), i * len);
  writeFileSync(file, frames);
  const socat = spawn('socat', ['-d', '-d', 'pty,raw,echo=0', 'pty,raw,echo=0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let pourer: ReturnType<typeof spawn> | null = null;
  try {
    const ptys = await new Promise<string[]>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`socat printed no ptys: ${err}`)), 5000);
      socat.once('error', (e) => { clearTimeout(timer); reject(e); });
      socat.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        const found = [...err.matchAll(/PTY is (\S+)/g)].map((m) => m[1]);
        if (found.length === 2) { clearTimeout(timer); resolve(found); }
      });
    });
    const port = new SerialPort({ path: ptys[1], baudRate: 1_000_000, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    const dec = new FrameDecoder();
    const reader = new PayloadReader();
    const state = new SbpState();
    let decoded = 0;
    let bytes = 0;
    port.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      dec.feed(chunk);
      for (let rx = dec.next(); rx !== 0; rx = dec.next()) {
        if (rx === RX_FRAME && decodeStateInto(reader, dec.body, dec.payloadOffset, dec.payloadLength, state) === 0) decoded++;
      }
    });
    pourer = spawn('/bin/sh', ['-c', 'while :; do cat "$0"; done > "$1"', file, ptys[0]], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 300));
    const d0 = decoded;
    const b0 = bytes;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 2000));
    const s = (performance.now() - t0) / 1000;
    const result = { seconds: round(s), states_decoded_per_s: Math.round((decoded - d0) / s), megabytes_per_s: round((bytes - b0) / s / 1e6), drops: dec.stats.resyncs };
    await new Promise<void>((resolve) => port.close(() => resolve()));
    return result;
  } catch (err) {
    return { error: (err as Error).message };
  } finally {
    pourer?.kill('SIGKILL');
    socat.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The codec alone, in memory: STATE frames decoded and COMMAND frames encoded per second. */
function codecInMemory() {
  const wire = new Uint8Array(SBP_MAX_FRAME);
  const vals = Array.from({ length: JOINTS }, (_, i) => 0.1 * i - 0.3);
  const len = encodeMessage({ type: 'STATE', seq: 1, mcuTimeUs: 123456789n, flags: 0x61, lastCommandSeq: 7, positions: vals, velocities: vals, efforts: vals }, wire);
  const stream = new Uint8Array(len * 1000);
  for (let i = 0; i < 1000; i++) stream.set(wire.subarray(0, len), i * len);
  const dec = new FrameDecoder();
  const reader = new PayloadReader();
  const state = new SbpState();
  let frames = 0;
  const t0 = performance.now();
  for (let rep = 0; rep < 300; rep++) {
    dec.feed(stream);
    for (let rx = dec.next(); rx !== 0; rx = dec.next()) {
      if (rx === RX_FRAME && decodeStateInto(reader, dec.body, dec.payloadOffset, dec.payloadLength, state) === 0) frames++;
    }
  }
  const decodeS = (performance.now() - t0) / 1000;
  const targets = Float64Array.from(vals);
  const t1 = performance.now();
  const N = 300_000;
  for (let i = 0; i < N; i++) encodeCommand(i & 0xffff, 0, targets, JOINTS, wire, 0);
  const encodeS = (performance.now() - t1) / 1000;
  return { state_frames_decoded_per_s: Math.round(frames / decodeS), command_frames_encoded_per_s: Math.round(N / encodeS) };
}

function wireBytes() {
  const wire = new Uint8Array(SBP_MAX_FRAME);
  const vals = Array.from({ length: JOINTS }, (_, i) => 0.1 * i + 0.05);
  const command = encodeMessage({ type: 'COMMAND', seq: 0x1234, mode: 0, targets: vals }, wire);
  const state = encodeMessage({ type: 'STATE', seq: 0x1234, mcuTimeUs: 0x0102030405060708n, flags: 0x61, lastCommandSeq: 0x1233, positions: vals, velocities: vals, efforts: vals }, wire);
  const commandPayload = 2 + 4 * JOINTS;
  const statePayload = 13 + 12 * JOINTS;
  return {
    joints: JOINTS,
    payload_bytes: { command: commandPayload, state: statePayload },
    overhead_bytes: {
      sbp: '10: COBS code 1 + version/type/seq 4 + CRC-32C 4 + delimiter 1 (+1 per 254 B of body)',
      mavlink2: '12: STX/len/flags/seq/sysid/compid/msgid 10 + CRC-16 2 (25 signed)',
      dynamixel2: '10: header 3 + reserved 1 + id 1 + length 2 + instruction 1 + CRC-16 2 (+ byte stuffing)',
    },
    per_command: { sbp: command, mavlink2: commandPayload + 12, dynamixel2: commandPayload + 10 },
    per_state: { sbp: state, mavlink2: statePayload + 12, dynamixel2: statePayload + 10 },
    sbp_bytes_per_s_at_rate: { rate_hz: RATE, host_to_mcu: command * RATE, mcu_to_host: state * RATE },
    integrity: { sbp: 'CRC-32C over header and payload', mavlink2: 'CRC-16/MCRF4XX + CRC_EXTRA schema byte', dynamixel2: 'CRC-16/BUYPASS' },
  };
}

if (!existsSync(SIM)) {
  process.stderr.write(`serial-rtt: host simulator not found at ${SIM}; build it with cmake (see the header of bench/serial-rtt.ts)\n`);
  process.exit(2);
}
const echoStriatum = await pacedRtt(ECHO_SIM_ARGS);
const echoC = await cHostRtt(ECHO_SIM_ARGS);
const echoBare = await bareNodeRtt(ECHO_SIM_ARGS);
const at500 = await pacedRtt(['--rate', '500']);
const cBaseline = cEcho();
const commands = await saturateCommands();
const states = await saturateStates();
const codec = codecInMemory();
const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 100) / 100 : null);
const c = echoC as { p50_us?: number; p99_us?: number };
process.stdout.write(`${JSON.stringify({
  bench: 'serial-rtt',
  rate_hz: RATE,
  joints: JOINTS,
  seconds: SECONDS,
  machine: { cpus: cpus().length, node: process.version, uv_threadpool_size: process.env.UV_THREADPOOL_SIZE ?? '4 (default)' },
  echo: {
    striatum: echoStriatum,
    c_host: echoC,
    bare_node_tty: echoBare,
    ratio_striatum_vs_c: {
      rtt_p50: ratio(echoStriatum.rtt.p50_us, c.p50_us ?? 0),
      rtt_p99: ratio(echoStriatum.rtt.p99_us, c.p99_us ?? 0),
    },
  },
  striatum_to_sim_500hz_tick: at500,
  baseline_c_echo_pty: cBaseline,
  saturation: { commands_over_pty: commands, states_over_pty: states, codec_in_memory: codec },
  wire_bytes: wireBytes(),
}, null, 2)}\n`);

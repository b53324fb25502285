// firmware-bridge's host simulator (sbp_sim) as a child process: the same C sbp_node an MCU runs, on a
// pseudo-terminal. It prints "PTY /dev/pts/N" first, then one JSON event a line stamped with its own clock
// (mcu_us). Used by `path: auto-sim`, the integration tests and bench/serial-rtt.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { StriatumError } from '../../errors.js';

/** One line of the simulator's event log, e.g. {"event":"safe_state","reason":"watchdog","mcu_us":123}. */
export interface SbpSimEvent {
  readonly event: string;
  readonly mcu_us: number;
  readonly [field: string]: unknown;
}

export interface SbpSimulatorOptions {
  /** Path of sbp_sim; default: $STRIATUM_SBP_SIM, else firmware-bridge/build/sbp_sim in this package. */
  binary?: string;
  args?: readonly string[];
  /**
   * Stop the simulator when this process dies, even by SIGKILL (default true): it runs under a shell that
   * waits for end-of-file on a pipe from us. Tests that kill the host on purpose and then read the simulator's
   * log start it with false.
   */
  dieWithParent?: boolean;
  /** How long to wait for the PTY line (default 5000 ms). */
  startTimeoutMs?: number;
  /** Every event, as it arrives (after it is stored in events). */
  onEvent?: (event: SbpSimEvent) => void;
}

/** Events kept in memory; a long demo run drops the oldest. */
const MAX_EVENTS = 10_000;

// "$@" is the simulator and its arguments. A background reader waits for EOF on our pipe (fd 3: a background
// job's stdin is /dev/null in sh) — our end closing, by stop() or by our death — and then stops the simulator.
// The shell's exit status is the simulator's.
const GUARD = 'exec 3<&0; "$@" </dev/null 3<&- & sim=$!; { cat <&3 >/dev/null; kill -TERM $sim 2>/dev/null; } >/dev/null 2>&1 & guard=$!; exec 3<&-; wait $sim; rc=$?; kill $guard 2>/dev/null; exit $rc';

export function defaultSimulatorBinary(): string {
  return process.env.STRIATUM_SBP_SIM ?? fileURLToPath(new URL('../../../../firmware-bridge/build/sbp_sim', import.meta.url));
}

export class SbpSimulator {
  readonly events: SbpSimEvent[] = [];
  /** Resolves with the exit code (null when killed by a signal) once the process is gone and its output read. */
  readonly exited: Promise<number | null>;
  private ptyPathValue = '';
  private stderrText = '';
  private exitCode: number | null | undefined = undefined;
  private readonly listeners = new Set<(e: SbpSimEvent) => void>();

  private constructor(readonly child: ChildProcess, private readonly options: SbpSimulatorOptions) {
    // 'close', not 'exit': by then stdout is drained, so the simulator's own exit event is in `events`.
    this.exited = new Promise((resolve) => child.once('close', (code) => {
      this.exitCode = code;
      child.stdin?.end(); // lets the guard's reader go
      resolve(code);
    }));
  }

  /** Start the simulator and wait for its pty. Throws STRIATUM_ERR_TRANSPORT when it is missing or fails. */
  static async start(options: SbpSimulatorOptions = {}): Promise<SbpSimulator> {
    const binary = options.binary ?? defaultSimulatorBinary();
    if (!existsSync(binary)) {
      throw new StriatumError('STRIATUM_ERR_TRANSPORT', `host simulator not found at ${binary}`, [
        'build it: cmake -S firmware-bridge -B firmware-bridge/build && cmake --build firmware-bridge/build --target sbp_sim',
        'or point STRIATUM_SBP_SIM at an sbp_sim binary',
      ]);
    }
    const args = [...(options.args ?? [])];
    const guarded = options.dieWithParent ?? true;
    const child = guarded
      ? spawn('/bin/sh', ['-c', GUARD, 'sbp_sim_guard', binary, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const sim = new SbpSimulator(child, options);
    await sim.waitForPty(options.startTimeoutMs ?? 5000, binary);
    return sim;
  }

  get ptyPath(): string {
    return this.ptyPathValue;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** The first stored or future event matching `match`, or a rejection after timeoutMs. */
  waitFor(match: (e: SbpSimEvent) => boolean, timeoutMs: number, what = 'simulator event'): Promise<SbpSimEvent> {
    const found = this.events.find(match);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.listeners.delete(listener); reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)); }, timeoutMs);
      const listener = (e: SbpSimEvent) => {
        if (!match(e)) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(e);
      };
      this.listeners.add(listener);
    });
  }

  /** Stop it (SIGTERM: it prints its exit event) and wait until it is gone; SIGKILL after timeoutMs. */
  async stop(timeoutMs = 2000): Promise<number | null> {
    if (!this.running) return this.exitCode ?? null;
    if (this.child.stdin !== null) this.child.stdin.end(); // the guard stops the simulator
    else this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  private waitForPty(timeoutMs: number, binary: string): Promise<void> {
    const child = this.child;
    return new Promise((resolve, reject) => {
      let buffered = '';
      let settled = false;
      const fail = (why: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        void this.stop(500);
        const stderr = this.stderrText.trim();
        reject(new StriatumError('STRIATUM_ERR_TRANSPORT', `host simulator ${binary} ${why}`, stderr === '' ? [] : stderr.split('\n').slice(0, 5)));
      };
      const timer = setTimeout(() => fail(`printed no PTY line within ${timeoutMs} ms`), timeoutMs);
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (d: string) => { if (this.stderrText.length < 4096) this.stderrText += d; });
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (d: string) => {
        buffered += d;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (this.ptyPathValue === '' && line.startsWith('PTY ')) {
            this.ptyPathValue = line.slice(4).trim();
            settled = true;
            clearTimeout(timer);
            resolve();
            continue;
          }
          this.onLine(line);
        }
      });
      child.once('error', (err) => fail(`could not start: ${err.message}`));
      child.once('exit', (code, signal) => fail(`exited before its pty was ready (${signal ?? `code ${code}`})`));
    });
  }

  private onLine(line: string): void {
    let event: SbpSimEvent;
    try {
      event = JSON.parse(line) as SbpSimEvent;
    } catch {
      return; // not an event line
    }
    if (typeof event !== 'object' || event === null || typeof event.event !== 'string') return;
    if (this.events.length >= MAX_EVENTS) this.events.shift();
    this.events.push(event);
    this.options.onEvent?.(event);
    for (const l of [...this.listeners]) l(event);
  }
}

// ros2-bridge's C robot peer (ros2_control-style fake hardware over Cyclone DDS) as a child process for tests:
// its JSON event lines are collected; lines written to its stdin drive it ("estop", "silence", "quit").
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROS2_BUILD_DIR } from './ros2-bridge.js';

export interface PeerEvent {
  readonly event: string;
  readonly commands?: number;
  readonly states?: number;
  readonly estop_heard?: boolean;
  readonly max_abs_command?: number[];
  readonly last_command?: number[];
  readonly time_from_start_ns?: number;
  readonly positions?: number[];
}

export class RobotPeer {
  readonly events: PeerEvent[] = [];
  readonly exited: Promise<number | null>;
  private stderr = '';

  private constructor(readonly child: ChildProcess) {
    let buf = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try { this.events.push(JSON.parse(line) as PeerEvent); } catch { /* not an event */ }
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => { this.stderr = (this.stderr + d).slice(-2000); });
    this.exited = new Promise((resolve) => child.once('close', (code) => resolve(code)));
  }

  static async start(args: string[], env: NodeJS.ProcessEnv): Promise<RobotPeer> {
    const child = spawn(join(ROS2_BUILD_DIR, 'ros2_robot_peer'), args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin!.on('error', () => undefined);
    const peer = new RobotPeer(child);
    await peer.waitFor((e) => e.event === 'ready', 10_000, 'the robot peer to start');
    return peer;
  }

  send(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  /** The newest "stats" event (one a second, and one at exit). */
  latestStats(): PeerEvent | undefined {
    return [...this.events].reverse().find((e) => e.event === 'stats' || e.event === 'exit');
  }

  async waitFor(match: (e: PeerEvent) => boolean, timeoutMs: number, what: string): Promise<PeerEvent> {
    const start = Date.now();
    for (;;) {
      const found = this.events.find(match);
      if (found !== undefined) return found;
      if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}; peer stderr: ${this.stderr.trim()}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await this.exited;
  }
}

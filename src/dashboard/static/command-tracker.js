// Every command's outcome, from what the robot says afterwards (its retained status and its events), not from
// the broker's acknowledgement alone: "sent" becomes "estopped", "no change: still running", or an event.
import { clip, el, setText } from './dom.js';

const ANSWER_WAIT_MS = 5000;

/**
 * What each command should lead to: a state in the robot's status, or one of some event codes. Rollback is
 * answered by a policy event; the others by the state machine (docs/ARCHITECTURE.md, States and faults).
 */
export const EXPECTED = {
  estop: { state: 'estopped' },
  arm: { state: 'paused' },
  pause: { state: 'paused' },
  resume: { state: 'running' },
  rollback: { events: { rollback: true, policy_swapped: true, rollback_unavailable: false } },
};

export class CommandTracker {
  constructor(model, list) {
    this.model = model;
    this.list = list;
    this.pending = [];
  }

  /** Record a command about to be sent; returns the entry to resolve with the broker's answer. */
  start(robotId, command) {
    const robot = this.model.robot(robotId);
    const entry = {
      robotId, command, atMs: Date.now(), done: false,
      statusSeq: robot?.statusSeq ?? 0, eventSeq: robot?.eventSeq ?? 0,
      outcome: el('span', { class: 'outcome pending' }, 'sending…'),
    };
    const item = el('li', { 'data-robot': robotId, 'data-command': command }, el('b', {}, command), ` → ${robotId}: `, entry.outcome);
    entry.item = item;
    this.list.prepend(item);
    while (this.list.children.length > 30) this.list.lastElementChild.remove();
    this.pending.push(entry);
    return entry;
  }

  sent(entry) {
    if (!entry.done) setText(entry.outcome, 'sent; waiting for the robot…');
  }

  failed(entry, why) {
    this.finish(entry, 'failed', `not sent: ${why}`);
  }

  finish(entry, verdict, text) {
    entry.done = true;
    entry.outcome.className = `outcome ${verdict}`;
    entry.item.dataset.verdict = verdict;
    setText(entry.outcome, clip(text, 240));
  }

  /** Called whenever the model changed and once a second (for time-outs). */
  update(nowMs) {
    for (const entry of this.pending) {
      if (entry.done) continue;
      const robot = this.model.robot(entry.robotId);
      const expected = EXPECTED[entry.command] ?? {};
      if (robot !== null && robot.eventSeq > entry.eventSeq) {
        const fresh = robot.events.slice(-(robot.eventSeq - entry.eventSeq));
        const rejected = fresh.find((e) => e.kind === 'rejected_message');
        if (rejected) { this.finish(entry, 'failed', `refused by the robot: ${rejected.code}: ${rejected.message}`); continue; }
        const answer = expected.events ? fresh.find((e) => e.code in expected.events) : undefined;
        if (answer) { this.finish(entry, expected.events[answer.code] ? 'ok' : 'failed', `${answer.code}: ${answer.message}`); continue; }
      }
      const reached = expected.state && robot !== null ? robot.statusLog.find((s) => s.seq > entry.statusSeq && s.state === expected.state) : undefined;
      if (reached !== undefined) {
        this.finish(entry, 'ok', `${reached.state} (${((nowMs - entry.atMs) / 1000).toFixed(1)} s)`);
        continue;
      }
      if (nowMs - entry.atMs > ANSWER_WAIT_MS) {
        if (robot === null || robot.online === false) this.finish(entry, 'failed', 'no answer: the robot is offline');
        else if (expected.state && robot.state === expected.state) this.finish(entry, 'ok', `${robot.state} (it already was)`);
        else this.finish(entry, 'failed', `no change in ${ANSWER_WAIT_MS / 1000} s: the robot is ${robot.state ?? 'in an unknown state'}${robot.reason ? ` (${robot.reason})` : ''}`);
      }
    }
    this.pending = this.pending.filter((e) => !e.done);
  }
}

// The controller's states. Faults and e-stop latch in `estopped`; only an explicit `arm` leaves it, to `paused`,
// and only `resume` starts the policy again: the operator sees the robot safe before it moves.
//
//   idle ──resume──▶ running ◀──resume── paused
//                      │  ──pause──▶       ▲
//      any ──estop/fault──▶ estopped ──arm──┘

import type { ControlState } from './step.js';

export type ControlEvent = 'resume' | 'pause' | 'estop' | 'fault' | 'arm';

export interface Transition {
  readonly from: ControlState;
  readonly to: ControlState;
  readonly event: ControlEvent;
  readonly reason: string;
}

export class ControlStateMachine {
  state: ControlState = 'idle';
  /** Reason for the latest transition, e.g. "fault: nan_action". */
  reason = 'start-up';
  private readonly listeners: ((t: Transition) => void)[] = [];

  onTransition(listener: (t: Transition) => void): void {
    this.listeners.push(listener);
  }

  /** Apply an event; returns whether it changed the state. Events that make no sense in a state are ignored. */
  handle(event: ControlEvent, reason: string): boolean {
    const from = this.state;
    const to = next(from, event);
    if (to === null) return false;
    this.state = to;
    this.reason = reason;
    const t: Transition = { from, to, event, reason };
    for (const l of this.listeners) l(t);
    return true;
  }

  get running(): boolean {
    return this.state === 'running';
  }
}

function next(from: ControlState, event: ControlEvent): ControlState | null {
  if (event === 'estop' || event === 'fault') return from === 'estopped' ? null : 'estopped';
  switch (from) {
    case 'idle': return event === 'resume' ? 'running' : null;
    case 'running': return event === 'pause' ? 'paused' : null;
    case 'paused': return event === 'resume' ? 'running' : null;
    case 'estopped': return event === 'arm' ? 'paused' : null;
  }
}

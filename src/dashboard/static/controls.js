// Operator controls as a registry: each control renders itself into a robot's control bar and sends commands
// through `ctx.send`. The broker decides who may command; the page shows controls only to a login the broker
// lets subscribe to the operator-access topic. Teleoperation is one more registerControl() (a keyboard or
// gamepad handler that sends its commands through ctx.send) once robots accept a teleop command.
import { el } from './dom.js';

const controls = [];

/**
 * @param control { id, render(ctx) → Node } or { id, label, command, title? } for a plain command button.
 * ctx: { robotId, send(command, reason) }.
 */
export function registerControl(control) {
  controls.push(control);
}

export function renderControls(ctx) {
  const bar = el('div', { class: 'controls', role: 'toolbar', 'aria-label': 'robot controls' });
  for (const c of controls) {
    const node = c.render !== undefined ? c.render(ctx) : el('button', {
      type: 'button', class: `control control-${c.id}`, 'data-control': c.id, title: c.title ?? '',
      onclick: () => ctx.send(c.command, `${c.command} from the dashboard`),
    }, c.label);
    bar.append(node);
  }
  return bar;
}

registerControl({ id: 'arm', label: 'Arm', command: 'arm', title: 'leave the latched safe state for paused' });
registerControl({ id: 'resume', label: 'Resume', command: 'resume', title: 'run the policy' });
registerControl({ id: 'pause', label: 'Pause', command: 'pause', title: 'hold position' });
registerControl({ id: 'rollback', label: 'Roll back policy', command: 'rollback', title: 'go back to the previous policy release' });

// When the host sends ARM. The MCU accepts ARM only after a fresh healthy command stream, and a latched
// ESTOP or firmware FAULT is cleared only by an ARM; so the host decides *whether* it may clear them:
//   - at the start of a session (open) and after an explicit arm(): yes, through any latch;
//   - after a watchdog trip or a reconnect during a running session: re-arm, because the MCU's healthy-stream
//     rule is itself the evidence that the host is back, and the control loop faults on its own when the link
//     stays down longer than control.link_timeout_ms (its e-stop latches here and stops everything);
//   - after an ESTOP or FAULT latched on the device during a session (a button on the robot, a driver fault):
//     no, not until an operator's arm().
import { SBP_FLAG_ARMED, SBP_FLAG_ESTOPPED, SBP_FLAG_FAULT, SBP_FLAG_STREAM_HEALTHY } from './protocol.js';

export interface ArmIntent {
  /** The host wants the device armed: true from open() and arm(), false after estop() and close(). */
  armIntent: boolean;
  /** ARM may clear a latched ESTOP or FAULT: set by open() and arm(), cleared once the device is armed. */
  armThroughLatches: boolean;
}

export function shouldSendArm(flags: number, intent: ArmIntent): boolean {
  if ((flags & SBP_FLAG_ARMED) !== 0 || (flags & SBP_FLAG_STREAM_HEALTHY) === 0 || !intent.armIntent) return false;
  if (intent.armThroughLatches) return true;
  return (flags & (SBP_FLAG_ESTOPPED | SBP_FLAG_FAULT)) === 0;
}

// Operator commands from MQTT: rollback goes to the policy manager, everything else to the loop's state machine.
// A link lost for too long acts like the command mqtt.on_disconnect names.
import type { ControlLoop } from '../control/control-loop.js';
import type { Logger } from '../log.js';
import type { PolicyManager } from '../policy/policy-manager.js';
import type { RobotLink } from '../telemetry/robot-link.js';

export function routeCommands(link: RobotLink, loop: ControlLoop, policyManager: PolicyManager | null, log: Logger): void {
  link.onLinkLost((action, reason) => { loop.handleCommand(action, reason); });
  link.onCommand((cmd) => {
    log.info('command received', { command: cmd.command, from: cmd.from ?? null, reason: cmd.reason ?? null });
    const why = `${cmd.command} via MQTT${cmd.from ? ` from ${cmd.from}` : ''}${cmd.reason ? `: ${cmd.reason}` : ''}`;
    if (cmd.command === 'rollback') {
      if (policyManager !== null) { policyManager.rollback(why); return; }
      link.publishEvent({ kind: 'policy', code: 'rollback_unavailable', message: 'no previous policy version to roll back to' });
      return;
    }
    if (!loop.handleCommand(cmd.command, why)) log.warn('command ignored in this state', { command: cmd.command, state: loop.state });
  });
}

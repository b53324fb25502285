// /diagnostics for the ROS 2 transport: diagnostic_msgs/msg/DiagnosticArray with the loop's periodicity and
// execution time over the last interval (as ros2_control's controller manager reports its update loop), the
// safety counters and the link's counters. Periodicity is measured between consecutive commands, execution
// time from reading the state to writing the command: both where the transport sees the tick.
import type { LoopCounters } from '../types.js';
import { DIAGNOSTIC_ARRAY, type MessageValue } from './messages.js';

export const DIAGNOSTIC_OK = 0;
export const DIAGNOSTIC_WARN = 1;
export const DIAGNOSTIC_ERROR = 2;

/** Count, mean, standard deviation, min and max of one interval; add() allocates nothing. */
export class IntervalStats {
  count = 0;
  private sum = 0;
  private sumSquares = 0;
  private minValue = Infinity;
  private maxValue = -Infinity;

  add(v: number): void {
    this.count++;
    this.sum += v;
    this.sumSquares += v * v;
    if (v < this.minValue) this.minValue = v;
    if (v > this.maxValue) this.maxValue = v;
  }

  summary(): { average: number; standard_deviation: number; min: number; max: number } {
    if (this.count === 0) return { average: 0, standard_deviation: 0, min: 0, max: 0 };
    const mean = this.sum / this.count;
    const variance = Math.max(0, this.sumSquares / this.count - mean * mean);
    return { average: mean, standard_deviation: Math.sqrt(variance), min: this.minValue, max: this.maxValue };
  }

  reset(): void {
    this.count = 0;
    this.sum = 0;
    this.sumSquares = 0;
    this.minValue = Infinity;
    this.maxValue = -Infinity;
  }
}

export interface LinkCounters {
  readonly backend: string;
  readonly jointStatesIn: number;
  readonly commandsOut: number;
  readonly commandsDropped: number;
  readonly rejected: Readonly<Record<string, number>>;
  readonly imagesIn: number;
  readonly estopLatched: boolean;
  readonly linkUp: boolean;
}

const fmt = (v: number): string => (Number.isInteger(v) ? String(v) : v.toPrecision(6));

function keyValues(prefix: string, values: Record<string, number>): { key: string; value: string }[] {
  return Object.entries(values).map(([k, v]) => ({ key: `${prefix}${k}`, value: fmt(v) }));
}

/** The DiagnosticArray message for one interval (off the tick; allocation is fine here). */
export function diagnosticArray(options: {
  readonly nodeName: string;
  readonly hardwareId: string;
  readonly stampS: number;
  readonly controlHz: number;
  readonly periodicityHz: IntervalStats;
  readonly executionUs: IntervalStats;
  readonly loop: LoopCounters | null;
  readonly deadlineMissesBefore: number;
  readonly link: LinkCounters;
}): MessageValue {
  const { loop, link } = options;
  const state = loop?.state ?? 'starting';
  const newMisses = loop !== null ? loop.deadlineMisses - options.deadlineMissesBefore : 0;
  const loopLevel = state === 'estopped' ? DIAGNOSTIC_ERROR : newMisses > 0 ? DIAGNOSTIC_WARN : DIAGNOSTIC_OK;
  const loopMessage = state === 'estopped' ? `estopped${loop?.lastFault ? ` (last fault: ${loop.lastFault})` : ''}`
    : newMisses > 0 ? `${state}, ${newMisses} deadline misses in the last interval` : state;
  const sec = Math.floor(options.stampS);
  const status = [
    {
      level: loopLevel, name: `${options.nodeName}: control loop`, message: loopMessage, hardware_id: options.hardwareId,
      values: [
        { key: 'state', value: state },
        { key: 'rate_hz', value: fmt(options.controlHz) },
        ...keyValues('periodicity.', options.periodicityHz.summary()),
        ...keyValues('execution_time.', options.executionUs.summary()),
        { key: 'periodicity.unit', value: 'Hz' },
        { key: 'execution_time.unit', value: 'us' },
        ...keyValues('', loop !== null ? {
          ticks: loop.ticks, deadline_misses: loop.deadlineMisses, skipped_periods: loop.skippedPeriods, overruns: loop.overruns,
        } : {}),
      ],
    },
    {
      level: state === 'estopped' ? DIAGNOSTIC_ERROR : DIAGNOSTIC_OK, name: `${options.nodeName}: safety`,
      message: link.estopLatched || state === 'estopped' ? 'safe state latched' : 'ok', hardware_id: options.hardwareId,
      values: [
        ...keyValues('', loop !== null ? {
          faults: loop.faults, clamped_position: loop.clampedPosition, clamped_velocity: loop.clampedVelocity,
          clamped_effort: loop.clampedEffort, clamped_delta: loop.clampedDelta, nonfinite_actions: loop.nonfiniteActions,
        } : {}),
        { key: 'last_fault', value: loop?.lastFault ?? '' },
      ],
    },
    {
      level: link.linkUp ? DIAGNOSTIC_OK : DIAGNOSTIC_ERROR, name: `${options.nodeName}: ros2 link`,
      message: link.linkUp ? 'joint states arriving' : 'no fresh joint state', hardware_id: options.hardwareId,
      values: [
        { key: 'backend', value: link.backend },
        ...keyValues('', {
          joint_states_in: link.jointStatesIn, commands_out: link.commandsOut, commands_dropped: link.commandsDropped, images_in: link.imagesIn,
        }),
        ...keyValues('rejected.', { ...link.rejected }),
      ],
    },
  ];
  return { header: { stamp: { sec, nanosec: Math.floor((options.stampS - sec) * 1e9) }, frame_id: '' }, status };
}

export { DIAGNOSTIC_ARRAY };

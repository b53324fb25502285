// The telemetry message, gathered from small stats() providers: the loop, the transport, the MQTT link, policy
// updates, the reward workers and the rollout path. Each reports its own counters; this file only names them
// for the wire. Runs at the telemetry rate, off the tick (it allocates).
import { CONTRACT_VERSION, type RewardTelemetrySchema, type RolloutTelemetrySchema, type TelemetryMessage } from '../contracts/messages.js';
import type { z } from 'zod';

/** The reward pipeline's and the rollout service's stats, as the wire schema declares them. */
type RewardTelemetry = z.infer<typeof RewardTelemetrySchema>;
type RolloutTelemetry = z.infer<typeof RolloutTelemetrySchema>;
import type { LoopStats } from '../control/control-loop.js';
import type { Logger } from '../log.js';
import type { TransportStats } from '../transports/types.js';
import type { RobotLink } from './robot-link.js';

export interface TelemetrySources {
  readonly robotId: string;
  readonly rateHz: number;
  readonly loop: { stats(): LoopStats };
  readonly transport: { stats(): TransportStats };
  /** The robot's MQTT link; null without one. */
  readonly mqtt: { readonly rejectedMessages: number } | null;
  /** Signed policy updates; null when the robot takes none. */
  readonly policyUpdates: { stats(): { deployed: number; refused: number; rollbacks: number } } | null;
  /** PRM workers; null without learned rewards. */
  readonly rewards: { telemetry(): RewardTelemetry } | null;
  /** Rollout recorder, spool and publisher; null without rollouts. */
  readonly rollouts: { stats(): RolloutTelemetry } | null;
}

export function telemetryMessage(p: TelemetrySources): TelemetryMessage {
  const l = p.loop.stats();
  const t = p.transport.stats();
  const s = l.safety;
  const updates = p.policyUpdates !== null ? p.policyUpdates.stats() : { deployed: 0, refused: 0, rollbacks: 0 };
  return {
    v: CONTRACT_VERSION,
    robot: p.robotId,
    stamp: new Date().toISOString(),
    state: l.state,
    rate_hz: p.rateHz,
    interval_s: l.intervalS,
    loop: {
      period_error_us: l.periodError, compute_us: l.compute, policy_us: l.policy,
      ticks: l.ticks, deadline_misses: l.deadlineMisses, skipped_periods: l.skippedPeriods, overruns: l.overruns,
    },
    safety: {
      clamped_position: s.clampedPosition, clamped_velocity: s.clampedVelocity, clamped_effort: s.clampedEffort,
      clamped_delta: s.clampedDelta, nonfinite_actions: s.nonfiniteActions, faults: l.faults,
    },
    link: {
      frames_in: t.framesIn, frames_out: t.framesOut, crc_errors: t.crcErrors, resyncs: t.resyncs, dropped_frames: t.droppedFrames,
      rejected_messages: t.rejectedMessages,
      watchdog_trips: t.watchdogTrips, reconnects: t.reconnects, rtt_p50_us: t.rttP50Us, rtt_p99_us: t.rttP99Us, up: t.linkUp,
    },
    episode: { index: l.episodeIndex, step: l.episodeStep, progress: Number.isFinite(l.progress) ? l.progress : null },
    mqtt: { rejected_messages: p.mqtt !== null ? p.mqtt.rejectedMessages : 0 },
    policy: { version: l.policyVersion, swaps: l.sourceSwaps, deployed: updates.deployed, refused: updates.refused, rollbacks: updates.rollbacks },
    reward: p.rewards !== null ? p.rewards.telemetry() : null,
    rollout: p.rollouts !== null ? p.rollouts.stats() : null,
  };
}

export interface TelemetryTimerOptions {
  readonly link: Pick<RobotLink, 'publishTelemetry' | 'connected'>;
  /** Messages per second. */
  readonly rateHz: number;
  readonly telemetry: () => TelemetryMessage;
  /** The reward pipeline, for the PRM's progress in the readable summary; null without PRMs. */
  readonly rewards: { readonly record: { readonly nextPotential: number } } | null;
  readonly logger: Logger;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** Telemetry on MQTT at its rate, and a readable summary in the log every ~5 s so the terminal shows progress too. */
export function startTelemetry(o: TelemetryTimerOptions): NodeJS.Timeout {
  const logEvery = Math.max(1, Math.round(5 * o.rateHz));
  let published = 0;
  const timer = setInterval(() => {
    const t = o.telemetry();
    o.link.publishTelemetry(t);
    if (++published % logEvery !== 0) return;
    const fields: Record<string, unknown> = {
      state: t.state, episode: t.episode.index, step: t.episode.step,
      progress: t.episode.progress === null ? null : round2(t.episode.progress),
    };
    if (o.rewards !== null) fields.prm_progress = round2(o.rewards.record.nextPotential);
    fields.period_error_p99_us = Math.round(t.loop.period_error_us.p99);
    fields.compute_p99_us = Math.round(t.loop.compute_us.p99);
    fields.deadline_misses = t.loop.deadline_misses;
    fields.mqtt = o.link.connected ? 'up' : 'down';
    o.logger.info('robot', fields);
  }, 1000 / o.rateHz);
  timer.unref();
  return timer;
}

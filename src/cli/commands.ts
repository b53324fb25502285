// The subcommands of `striatum`. Each returns its exit code; errors are thrown as StriatumError.
import { runCommand } from './cmd-run.js';
import { configCommand } from './cmd-config.js';
import { schemaCommand } from './cmd-schema.js';
import { doctorCommand } from './cmd-doctor.js';
import { recordCommand } from './cmd-record.js';
import { evalCommand } from './cmd-eval.js';
import { updaterCommand } from './cmd-updater.js';
import { keysCommand } from './cmd-keys.js';
import { policyCommand } from './cmd-policy.js';
import { prmCommand } from './prm-eval.js';
import { datasetCommand } from './cmd-dataset.js';
import { mcapCommand } from './cmd-mcap.js';
import { learnCommand } from './cmd-learn.js';
import { dashboardCommand } from './cmd-dashboard.js';
import type { Command } from './flags.js';

export type { Command } from './flags.js';

export const commands: Record<string, Command> = {
  run: runCommand,
  config: configCommand,
  schema: schemaCommand,
  doctor: doctorCommand,
  record: recordCommand,
  eval: evalCommand,
  updater: updaterCommand,
  keys: keysCommand,
  policy: policyCommand,
  prm: prmCommand,
  dataset: datasetCommand,
  mcap: mcapCommand,
  learn: learnCommand,
  dashboard: dashboardCommand,
};

// `striatum policy publish`: validate a trained policy, sign its manifest and publish it (retained) with the model
// in pieces, for robots of its task to verify, download and swap in.
import { connectAsync } from 'mqtt';
import { StriatumError } from '../errors.js';
import type { Logger } from '../log.js';
import { expectationsFromMetadata, findPolicyInDir, loadPrivateKey, releasePolicy, validateForRelease } from '../updater/registry.js';
import { numberFlag, parseFlags, type Command } from './flags.js';

const HELP = `Usage: striatum policy publish --model DIR --key FILE --broker URL [--username NAME] [--password-env VAR]
                             [--version V] [--parent-version V] [--sequence N] [--action-abs-max X] [--skip-validation]

publish   DIR holds one striatum.policy/v1 metadata JSON and the ONNX model it names. The model is loaded in
          onnxruntime and run on test observations (no NaN, |action| ≤ --action-abs-max when given), then its
          manifest is signed with the ed25519 private key FILE and published, retained, to
          striatum/v1/policy/{task}/manifest after its 64 KiB pieces (striatum-pieces/v1/{task}/{sha256}/{i}).
          --sequence numbers the release (default: the current time in ms); robots take only a release
          with a higher sequence than the one they have run, so an old manifest published again is refused.
          The MQTT account needs the updater role.`;

function sequenceFlag(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new StriatumError('STRIATUM_ERR_USAGE', `--sequence: expected a whole number ≥ 1, got "${text}"`);
  return n;
}

export const policyCommand: Command = {
  summary: 'validate, sign and publish a policy to the robots of its task',
  help: HELP,
  async run(args: string[], logger: Logger): Promise<number> {
    if (args[0] !== 'publish') throw new StriatumError('STRIATUM_ERR_USAGE', `unknown policy subcommand "${args[0] ?? ''}"; choose publish`);
    const { values } = parseFlags(args.slice(1), {
      model: { type: 'string' }, key: { type: 'string' }, broker: { type: 'string' }, username: { type: 'string' },
      'password-env': { type: 'string' }, version: { type: 'string' }, 'parent-version': { type: 'string' },
      sequence: { type: 'string' }, 'action-abs-max': { type: 'string' }, 'skip-validation': { type: 'boolean' },
    });
    for (const flag of ['model', 'key', 'broker'] as const) {
      if (values[flag] === undefined) throw new StriatumError('STRIATUM_ERR_USAGE', `policy publish needs --${flag}`);
    }
    const key = loadPrivateKey(values.key as string);
    const { modelPath, metadataPath, metadata } = findPolicyInDir(values.model as string);
    if (values['skip-validation'] !== true) {
      const spec = { ...expectationsFromMetadata(metadata), actionAbsMax: numberFlag('action-abs-max', values['action-abs-max'], 0) };
      const report = await validateForRelease(modelPath, metadataPath, spec, undefined, logger);
      if (!report.ok) throw new StriatumError('STRIATUM_ERR_POLICY_LOAD', `policy ${metadata.name} ${metadata.version} failed release validation`, report.problems);
      logger.info('policy validated for release', { version: metadata.version, provider: report.provider, action_min: report.actionMin, action_max: report.actionMax });
    }
    let password: string | undefined;
    if (values['password-env'] !== undefined) {
      password = process.env[values['password-env']];
      if (password === undefined) throw new StriatumError('STRIATUM_ERR_USAGE', `--password-env: environment variable ${values['password-env']} is not set`);
    }
    let client;
    try {
      client = await connectAsync(values.broker as string, { username: values.username, password, reconnectPeriod: 0, connectTimeout: 10_000 });
    } catch (err) {
      throw new StriatumError('STRIATUM_ERR_MQTT', `cannot connect to ${values.broker}: ${(err as Error).message}`);
    }
    try {
      const manifest = await releasePolicy({
        modelDir: values.model as string, key, mqttClient: client, version: values.version,
        parentVersion: values['parent-version'], sequence: sequenceFlag(values.sequence), logger,
      });
      process.stdout.write(`${JSON.stringify({ task: manifest.task, version: manifest.version, sequence: manifest.sequence, sha256: manifest.model.sha256, pieces: manifest.pieces.length, key_id: manifest.key_id })}\n`);
    } finally {
      await client.endAsync().catch(() => undefined);
    }
    return 0;
  },
};

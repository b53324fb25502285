// Tools the tests need from the system. A missing tool fails the test that needs it, naming the Debian package
// to install: a skipped check reads like a passed one. `.ci/run` installs every package named here.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const DEBIAN_PYTHON = '/usr/bin/python3';

/** The Debian package of each Python module the tests import. */
const PYTHON_PACKAGES: Record<string, string> = { numpy: 'python3-numpy', torch: 'python3-torch', onnx: 'python3-onnx' };

const MOSQUITTO_PATHS = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'];

export class MissingToolError extends Error {
  constructor(what: string, readonly packages: string[]) {
    super(`${what}; install it: apt-get install ${packages.join(' ')} (.ci/run installs every tool the tests need)`);
    this.name = 'MissingToolError';
  }
}

/** /usr/bin/python3 with these modules importable (the Debian builds the trainer uses), or a MissingToolError. */
export function requirePython(modules: string[] = ['numpy']): string {
  const packages = ['python3', ...modules.map((m) => PYTHON_PACKAGES[m] ?? `python3-${m}`)];
  if (!existsSync(DEBIAN_PYTHON)) throw new MissingToolError(`${DEBIAN_PYTHON} is missing`, packages);
  if (modules.length === 0) return DEBIAN_PYTHON;
  const r = spawnSync(DEBIAN_PYTHON, ['-c', `import ${modules.join(', ')}`], { encoding: 'utf8' });
  if (r.status !== 0) {
    const why = (r.error?.message ?? r.stderr.trim().split('\n').pop()) || 'import failed';
    throw new MissingToolError(`${DEBIAN_PYTHON} cannot import ${modules.join(', ')} (${why})`, packages);
  }
  return DEBIAN_PYTHON;
}

/** The mosquitto broker binary (and mosquitto_passwd beside it), or a MissingToolError. */
export function requireMosquitto(): string {
  const found = MOSQUITTO_PATHS.find((p) => existsSync(p));
  if (found === undefined) throw new MissingToolError('mosquitto is not installed', ['mosquitto', 'mosquitto-clients']);
  requireCommand('mosquitto_passwd', ['mosquitto'], ['-h']);
  return found;
}

/** Eclipse Cyclone DDS for C programs: headers, the library, idlc, and cmake to build against them. */
export function requireCycloneDds(): void {
  requireCommand('cmake', ['cmake', 'gcc']);
  requireCommand('idlc', ['cyclonedds-tools'], ['-v']);
  if (!existsSync('/usr/include/dds/dds.h')) throw new MissingToolError('Cyclone DDS headers (/usr/include/dds/dds.h) are missing', ['cyclonedds-dev', 'libddsc0debian']);
}

/** A command on PATH that runs, or a MissingToolError naming packages. */
export function requireCommand(command: string, packages: string[], probeArgs: string[] = ['--version']): string {
  const r = spawnSync(command, probeArgs, { stdio: 'ignore' });
  if (r.error !== undefined) throw new MissingToolError(`${command} is not on PATH (${r.error.message})`, packages);
  return command;
}

/** ffmpeg and ffprobe (Debian package ffmpeg): encode and check the videos of LeRobot exports. */
export function requireFfmpeg(): { ffmpeg: string; ffprobe: string } {
  return { ffmpeg: requireCommand('ffmpeg', ['ffmpeg'], ['-version']), ffprobe: requireCommand('ffprobe', ['ffmpeg'], ['-version']) };
}

/** Debian's PostgreSQL 15 server binaries (initdb, postgres), or a MissingToolError. */
export const POSTGRES_BIN = '/usr/lib/postgresql/15/bin';
export function requirePostgres(): string {
  for (const tool of ['initdb', 'postgres', 'pg_ctl']) {
    if (!existsSync(`${POSTGRES_BIN}/${tool}`)) throw new MissingToolError(`${POSTGRES_BIN}/${tool} is missing`, ['postgresql-15']);
  }
  return POSTGRES_BIN;
}

export const DEBIAN_CHROMIUM = '/usr/bin/chromium';

/** Debian's Chromium for the browser tests (never a downloaded browser), or a MissingToolError. */
export function requireChromium(): string {
  if (!existsSync(DEBIAN_CHROMIUM)) throw new MissingToolError(`${DEBIAN_CHROMIUM} is missing`, ['chromium']);
  return DEBIAN_CHROMIUM;
}

// The dashboard's files: the page in src/dashboard/static and two libraries from the installed packages (mqtt's
// browser build, uPlot). A fixed list read once into memory: no other file on disk can be requested.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CommandMessageSchema, CONTRACT_VERSION } from '../contracts/messages.js';
import { RESERVED_TOPIC_LEVELS, ROBOT_ID_PATTERN, TOPIC_ROOT, topics } from '../contracts/topics.js';

const STATIC_DIR = fileURLToPath(new URL('../../../src/dashboard/static/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** URL path → file on disk. The page's own files are listed by name so a new one is served only once added here. */
function fileTable(): Map<string, string> {
  const require = createRequire(import.meta.url);
  const mqttDir = dirname(require.resolve('mqtt/package.json'));
  const uplotDir = dirname(require.resolve('uplot/package.json'));
  const page = [
    'index.html', 'style.css', 'app.js', 'broker-session.js', 'fleet-model.js', 'fleet-view.js', 'robot-view.js',
    'charts.js', 'controls.js', 'command-tracker.js', 'dom.js',
  ];
  const table = new Map<string, string>(page.map((name) => [`/${name}`, join(STATIC_DIR, name)]));
  table.set('/', join(STATIC_DIR, 'index.html'));
  table.set('/lib/mqtt.min.js', join(mqttDir, 'dist/mqtt.min.js'));
  table.set('/lib/uPlot.esm.js', join(uplotDir, 'dist/uPlot.esm.js'));
  table.set('/lib/uPlot.min.css', join(uplotDir, 'dist/uPlot.min.css'));
  return table;
}

/** What the page learns from the server before login: which broker to connect to (null: this page's own host). */
export interface DashboardPageConfig {
  readonly broker: string | null;
}

interface LoadedFile { readonly body: Buffer; readonly type: string }

// The page talks MQTT over WebSocket only (to its own host, or the broker `striatum dashboard` names); it loads
// nothing from elsewhere and cannot be framed.
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** A request handler serving the dashboard; files are read once, here. */
export function dashboardHandler(config: DashboardPageConfig): (req: IncomingMessage, res: ServerResponse) => void {
  const files = new Map<string, LoadedFile>();
  for (const [url, path] of fileTable()) {
    const ext = path.slice(path.lastIndexOf('.'));
    files.set(url, { body: readFileSync(path), type: TYPES[ext] ?? 'application/octet-stream' });
  }
  files.set('/config.json', { body: Buffer.from(JSON.stringify(config)), type: 'application/json' });
  files.set('/topics.js', { body: Buffer.from(topicsModule()), type: TYPES['.js'] as string });
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    const file = files.get(path);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', ...SECURITY_HEADERS }).end();
      return;
    }
    if (file === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': file.type, 'content-length': file.body.length, ...SECURITY_HEADERS });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  };
}

/**
 * The topic grammar for the page, generated from src/contracts/topics.ts (the only place topics are spelled):
 * per-robot topics as templates with `{robot}` and `{camera}`, and the filters the page subscribes to. The page
 * never subscribes to the model pieces (their own root, topics.piecePrefix()).
 */
function topicsModule(): string {
  const grammar = {
    contractVersion: CONTRACT_VERSION,
    root: TOPIC_ROOT,
    robotIdPattern: ROBOT_ID_PATTERN.source,
    reserved: RESERVED_TOPIC_LEVELS,
    commands: CommandMessageSchema.shape.command.options,
    cmd: topics.cmd('{robot}'),
    camera: topics.camera('{robot}', '+'),
    fleet: ['status', 'telemetry', 'episode', 'event', 'reward'].map((leaf) => topics.allRobots(leaf)),
    policyManifests: topics.policyManifest('+'),
    updaterStatus: topics.updaterStatus(),
    updaterTraining: topics.updaterTraining(),
    operatorEcho: topics.operatorEcho('{client}'),
  };
  return `// Generated from src/contracts/topics.ts by the server; do not edit.\nexport const grammar = Object.freeze(${JSON.stringify(grammar, null, 2)});\n`;
}

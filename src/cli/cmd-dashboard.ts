// `striatum dashboard --broker ws://… [--listen HOST:PORT]`: serve the web dashboard for any MQTT broker with a
// WebSocket listener. (With the embedded broker, `striatum run` serves it on mqtt.ws_port already.)
import { startDashboardServer } from '../dashboard/dashboard-server.js';
import { StriatumError } from '../errors.js';
import type { Logger } from '../log.js';
import { parseFlags, type Command } from './flags.js';

const HELP = `Usage: striatum dashboard --broker ws://HOST:PORT[/PATH] [--listen HOST:PORT]

Serves the web dashboard (fleet, robot charts, cameras, events, operator controls) for a broker other than the
robot's embedded one. The page connects from the browser to --broker over MQTT-over-WebSocket with the login
typed into it; this server only serves files (no internet needed).

  --broker URL       the broker's WebSocket listener as the browser reaches it (ws:// or wss://)
  --listen H:P       address to serve the page on (default 127.0.0.1:8080; 0 picks a free port)

With the embedded broker (mqtt.broker: embedded), \`striatum run\` serves the same page at http://<mqtt.host>:<mqtt.ws_port>/.`;

export const dashboardCommand: Command = {
  summary: 'serve the web dashboard for an external MQTT broker',
  help: HELP,
  async run(args: string[], logger: Logger): Promise<number> {
    const { values } = parseFlags(args, { broker: { type: 'string' }, listen: { type: 'string' } });
    if (values.broker === undefined) throw new StriatumError('STRIATUM_ERR_USAGE', 'dashboard needs --broker ws://HOST:PORT (the broker\'s WebSocket listener)');
    let broker: URL;
    try {
      broker = new URL(values.broker);
    } catch {
      throw new StriatumError('STRIATUM_ERR_USAGE', `--broker must be a ws:// or wss:// URL, got "${values.broker}"`);
    }
    if (broker.protocol !== 'ws:' && broker.protocol !== 'wss:') throw new StriatumError('STRIATUM_ERR_USAGE', `--broker must be a ws:// or wss:// URL (browsers speak MQTT over WebSocket only), got "${values.broker}"`);
    const listen = values.listen ?? '127.0.0.1:8080';
    const colon = listen.lastIndexOf(':');
    const host = listen.slice(0, colon).replace(/^\[|\]$/g, '');
    const port = Number(listen.slice(colon + 1));
    if (colon <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new StriatumError('STRIATUM_ERR_USAGE', `--listen must be HOST:PORT, got "${listen}"`);
    const server = await startDashboardServer({ broker: broker.href, host, port });
    logger.info('dashboard serving', { url: server.url, broker: broker.href });
    process.stdout.write(`${JSON.stringify({ url: server.url, broker: broker.href })}\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await server.close();
    return 0;
  },
};

// The dashboard on its own HTTP server, for a broker that is not the robot's embedded one (Mosquitto, a fleet
// broker): `striatum dashboard --broker ws://…`. The page then connects to that broker's WebSocket listener.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StriatumError } from '../errors.js';
import { dashboardHandler } from './dashboard-files.js';

export interface DashboardServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startDashboardServer(o: { broker: string; host: string; port: number }): Promise<DashboardServer> {
  const server: Server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000 }, dashboardHandler({ broker: o.broker }));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(new StriatumError('STRIATUM_ERR_USAGE', `dashboard cannot listen on ${o.host}:${o.port} (--listen): ${err.code ?? String(err)}`, [], { cause: err }));
    });
    server.listen(o.port, o.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    url: `http://${host}:${port}/`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

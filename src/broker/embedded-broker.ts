// The embedded MQTT broker (aedes, MQTT 3.1.1) for a robot that has no broker of its own: TCP and WebSocket
// listeners on loopback by default, username/password accounts and per-robot topic ACLs.
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import { Aedes, type AuthenticateError } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { StriatumError } from '../errors.js';
import type { Logger } from '../log.js';
import { canPublish, canRetain, canSubscribe, checkPassword, clientIdOwner, type Account } from './acl.js';
import { CONNECT_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_PACKET_BYTES } from './limits.js';
import { PacketSizeGuard } from './packet-size-guard.js';

export interface EmbeddedBrokerOptions {
  readonly host: string;
  readonly port: number;
  /** null disables the WebSocket listener. */
  readonly wsPort: number | null;
  readonly accounts: readonly Account[];
  readonly logger: Logger;
  /** Open connections (TCP and WebSocket together) at most; further ones are closed at once. */
  readonly maxConnections?: number;
  /** Largest MQTT packet from a logged-in client; before login a packet may not exceed 64 KiB. */
  readonly maxPacketBytes?: number;
  /**
   * Plain HTTP requests on the WebSocket port (the dashboard page); the WebSocket upgrade stays MQTT. Without
   * one, such requests are answered 426 Upgrade Required.
   */
  readonly httpHandler?: (req: IncomingMessage, res: ServerResponse) => void;
}

/** Refusals so far, by kind: for logs and tests. */
export interface BrokerRefusals {
  readonly logins: number;
  /** Logins with a client id that belongs to another account. */
  readonly clientIds: number;
  readonly publishes: number;
  readonly subscribes: number;
  /** CONNECTs with a protocol version other than MQTT 3.1/3.1.1 (MQTT 5 clients). */
  readonly protocol: number;
  /** Connections closed because a packet announced more bytes than allowed. */
  readonly oversizedPackets: number;
  /** Bytes those packets announced, none of which were buffered. */
  readonly oversizedBytes: number;
  /** Connections closed because max connections were open. */
  readonly connections: number;
}

export class EmbeddedBroker {
  private constructor(
    private readonly aedes: Aedes,
    private readonly tcp: Server,
    private readonly wss: WebSocketServer | null,
    private readonly http: HttpServer | null,
    readonly port: number,
    readonly wsPort: number | null,
    readonly host: string,
    private readonly logger: Logger,
    /** Refusals so far, for logs and tests. */
    readonly refused: BrokerRefusals,
  ) {}

  get url(): string {
    return `mqtt://${this.host}:${this.port}`;
  }

  static async start(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
    const log = options.logger;
    const byName = new Map(options.accounts.map((a) => [a.username, a]));
    const accountOf = new WeakMap<object, Account>();
    const counters = { logins: 0, clientIds: 0, publishes: 0, subscribes: 0, protocol: 0, oversizedPackets: 0, oversizedBytes: 0, connections: 0 };
    const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    const maxPacketBytes = options.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES;

    const aedes = await Aedes.createBroker({
      // One slow subscriber (a dashboard on Wi-Fi) must not stall the robot's publishes.
      drainTimeout: 2000,
      connectTimeout: CONNECT_TIMEOUT_MS,
      preConnect: (client, packet, done) => {
        if (packet.protocolVersion !== 3 && packet.protocolVersion !== 4) {
          // aedes answers with CONNACK "unacceptable protocol version"; say why in our own words.
          counters.protocol++;
          log.warn('MQTT connection refused: the embedded broker speaks MQTT 3.1.1 only; connect with MQTT 3.1.1 or use Mosquitto for MQTT 5', {
            client: packet.clientId, username: packet.username ?? null, protocol_version: packet.protocolVersion,
          });
        }
        done(null, true);
      },
      authenticate: (client, username, password, done) => {
        const account = username !== undefined ? byName.get(username) : undefined;
        if (account === undefined || !checkPassword(account, password)) {
          counters.logins++;
          log.warn('MQTT login refused', { client: client.id, username: username ?? null });
          const err = new Error('bad username or password') as AuthenticateError;
          err.returnCode = 4;
          done(err, false);
          return;
        }
        const owner = clientIdOwner(options.accounts, client.id);
        if (owner !== null && owner !== account) {
          counters.clientIds++;
          log.warn('MQTT login refused: the client id belongs to another account', { client: client.id, username: account.username, owner: owner.username });
          const err = new Error(`client id ${client.id} belongs to another account`) as AuthenticateError;
          err.returnCode = 2; // identifier rejected
          done(err, false);
          return;
        }
        accountOf.set(client, account);
        if (client.conn instanceof PacketSizeGuard) client.conn.authenticated();
        done(null, true);
      },
      authorizePublish: (client, packet, callback) => {
        if (client === null) { callback(null); return; } // the broker itself (wills are checked at connect)
        const account = accountOf.get(client);
        if (account === undefined || !canPublish(account, packet.topic)) {
          counters.publishes++;
          log.warn('MQTT publish refused by ACL', { client: client.id, username: account?.username ?? null, topic: packet.topic });
          callback(new Error(`not authorized to publish to ${packet.topic}`));
          return;
        }
        if (packet.retain && !canRetain(packet.topic)) {
          counters.publishes++;
          log.warn('MQTT retained command refused: commands must be sent without the retain flag', { client: client.id, username: account.username, topic: packet.topic });
          callback(new Error(`retained publish to ${packet.topic} refused`));
          return;
        }
        callback(null);
      },
      authorizeSubscribe: (client, sub, callback) => {
        const account = accountOf.get(client);
        if (account === undefined || !canSubscribe(account, sub.topic)) {
          counters.subscribes++;
          log.warn('MQTT subscribe refused by ACL', { client: client.id, username: account?.username ?? null, topic: sub.topic });
          callback(null, null); // SUBACK 0x80 for this filter; the connection stays up
          return;
        }
        callback(null, sub);
      },
    });

    // Every connection passes the packet-size guard and the connection count before aedes sees a byte.
    let open = 0;
    const admit = (conn: Duplex, remote: string | undefined): PacketSizeGuard | null => {
      if (open >= maxConnections) {
        counters.connections++;
        log.warn('MQTT connection refused: too many open connections (mqtt.max_connections)', { remote: remote ?? null, open, max: maxConnections });
        conn.destroy();
        return null;
      }
      open++;
      const guarded = new PacketSizeGuard(conn, maxPacketBytes, (announced, limit) => {
        counters.oversizedPackets++;
        if (Number.isFinite(announced)) counters.oversizedBytes += announced;
        log.warn('MQTT connection closed: packet larger than allowed', { remote: remote ?? null, announced_bytes: Number.isFinite(announced) ? announced : null, limit_bytes: limit });
      });
      guarded.once('close', () => { open--; });
      return guarded;
    };
    const tcp = createServer((socket) => {
      const guarded = admit(socket, socket.remoteAddress);
      if (guarded !== null) aedes.handle(guarded);
    });
    const port = await listen(tcp, options.port, options.host).catch((err: unknown) => {
      aedes.close();
      throw listenError('mqtt.port', 'TCP', options.host, options.port, err);
    });

    let wss: WebSocketServer | null = null;
    let http: HttpServer | null = null;
    let wsPort: number | null = null;
    if (options.wsPort !== null) {
      // One HTTP server: GET / is the dashboard page, the WebSocket upgrade is MQTT.
      const onRequest = options.httpHandler ?? ((_req: IncomingMessage, res: ServerResponse) => {
        res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' }).end('Upgrade Required\n');
      });
      http = createHttpServer({ requestTimeout: 10_000, headersTimeout: 5_000 }, onRequest);
      try {
        wsPort = await listen(http, options.wsPort, options.host);
      } catch (err) {
        tcp.close();
        aedes.close();
        throw listenError('mqtt.ws_port', 'WebSocket', options.host, options.wsPort, err);
      }
      // Attached once listening (ws re-emits the server's errors on itself). ws' own frame limit (100 MiB by
      // default) would buffer a whole oversized frame first.
      wss = new WebSocketServer({ server: http, maxPayload: maxPacketBytes + 16 });
      wss.on('error', (err) => log.warn('WebSocket server error', { error: String(err) }));
      wss.on('connection', (socket, request) => {
        const stream = createWebSocketStream(socket);
        stream.on('error', () => socket.terminate());
        const guarded = admit(stream, request.socket.remoteAddress);
        if (guarded === null) { socket.terminate(); return; }
        aedes.handle(guarded, request);
      });
    }

    const broker = new EmbeddedBroker(aedes, tcp, wss, http, port, wsPort, options.host, log, counters);
    log.info('embedded MQTT broker listening', { tcp: `${options.host}:${port}`, ws: wsPort === null ? null : `${options.host}:${wsPort}`, accounts: options.accounts.length });
    return broker;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
    if (this.wss !== null) {
      for (const c of this.wss.clients) c.terminate();
      await new Promise<void>((resolve) => (this.wss as WebSocketServer).close(() => resolve()));
    }
    if (this.http !== null) {
      this.http.closeAllConnections();
      await new Promise<void>((resolve) => (this.http as HttpServer).close(() => resolve()));
    }
    await new Promise<void>((resolve) => this.tcp.close(() => resolve()));
    this.logger.info('embedded MQTT broker stopped');
  }
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** A listen failure as one readable line: which port, which setting, and what to do about a port in use. */
function listenError(setting: string, what: string, host: string, port: number, err: unknown): StriatumError {
  const code = (err as NodeJS.ErrnoException).code ?? String(err);
  const hint = code === 'EADDRINUSE'
    ? `: port ${port} is in use by another program (often a system Mosquitto service: \`systemctl stop mosquitto\`). ` +
      `Stop it, set ${setting} to a free port (0 picks one), or point mqtt.broker at that broker (e.g. mqtt://${host}:${port}) instead of 'embedded'`
    : code === 'EACCES' ? `: not allowed to listen on port ${port}; set ${setting} to a port above 1023` : '';
  return new StriatumError('STRIATUM_ERR_BROKER', `embedded broker cannot listen for ${what} on ${host}:${port} (${setting}): ${code}${hint}`, [], { cause: err });
}

/**
 * An endpoint's network face: a TCP proxy on the endpoint's own loopback address that speaks just
 * enough of the Postgres protocol to stand in for Lakebase's: it answers SSLRequest (terminating
 * TLS when it has a certificate, declining otherwise), reads the startup message to refuse logins
 * whose token has expired on the emulator's clock and to make a read-only endpoint's sessions
 * read-only, starts the branch's Postgres on demand (as a suspended compute wakes on connect),
 * then pipes bytes both ways.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;
/** A TLS record's first byte: a client that starts TLS without asking (`sslnegotiation=direct`). */
const TLS_HANDSHAKE = 0x16;

export interface ProxyTarget {
  /** Starts the branch's compute if need be; the port its Postgres listens on. */
  upstream(): Promise<number>;
  /** Why a login as `user` is refused now, or undefined to let Postgres decide. */
  refuseLogin(user: string): string | undefined;
  /** Sessions start with `default_transaction_read_only=on`. */
  readonly readOnly: boolean;
}

export class EndpointProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    readonly address: string,
    private readonly requestedPort: number,
    private readonly target: ProxyTarget,
    private readonly secureContext: tls.SecureContext | undefined,
  ) {}

  /** Listens on `address:port`; resolves to the port (a free one when asked for 0). */
  async listen(): Promise<number> {
    const server = net.createServer((socket) => void this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.requestedPort, this.address, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => undefined);
    this.server = server;
    return (server.address() as net.AddressInfo).port;
  }

  /** The port it listens on (0 when closed). */
  get port(): number {
    return (this.server?.address() as net.AddressInfo | null)?.port ?? 0;
  }

  /** Stops listening and drops every connection. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
  }

  private async accept(client: net.Socket): Promise<void> {
    this.track(client);
    let stream: Duplex = client;
    let reader = new Reader(client);
    try {
      for (;;) {
        const head = await reader.read(8);
        // Direct TLS (`sslnegotiation=direct`) is not supported: such clients fall back to asking.
        if (head[0] === TLS_HANDSHAKE) throw new ProtocolError('08P01', 'direct TLS negotiation is not supported; use sslnegotiation=postgres');
        const length = head.readInt32BE(0);
        const code = head.readInt32BE(4);
        if (length === 8 && code === SSL_REQUEST) {
          if (this.secureContext && stream === client) {
            // The client waits for the answer before its TLS handshake: anything sooner is a protocol error.
            if (reader.detach().length > 0) throw new ProtocolError('08P01', 'data received before the TLS handshake');
            client.write('S');
            stream = this.startTls(client);
            reader = new Reader(stream);
          } else {
            stream.write('N');
          }
          continue;
        }
        if (length === 8 && code === GSSENC_REQUEST) {
          stream.write('N');
          continue;
        }
        if (length < 8 || length > 10_000) throw new ProtocolError('08P01', 'invalid startup packet length');
        const body = await reader.read(length - 8);
        if (code === CANCEL_REQUEST) {
          await this.pipe(stream, Buffer.concat([head, body]), reader);
          return;
        }
        if (code !== PROTOCOL_3) throw new ProtocolError('08P01', `unsupported frontend protocol ${code >> 16}.${code & 0xffff}`);
        const params = parseStartup(body);
        const refusal = params.user === undefined ? undefined : this.target.refuseLogin(params.user);
        if (refusal) throw new ProtocolError('28P01', refusal);
        if (this.target.readOnly) params.options = `${params.options ?? ''} -c default_transaction_read_only=on`.trim();
        await this.pipe(stream, startupMessage(params), reader);
        return;
      }
    } catch (error) {
      const reason = error instanceof ProtocolError ? error : new ProtocolError('57P03', `the endpoint's compute is not available: ${error instanceof Error ? error.message : String(error)}`);
      if (!stream.destroyed && stream.writable) stream.end(errorResponse(reason.code, reason.message));
      setTimeout(() => client.destroy(), 1_000).unref();
    }
  }

  private startTls(client: net.Socket): tls.TLSSocket {
    const secure = new tls.TLSSocket(client, { isServer: true, secureContext: this.secureContext });
    secure.on('error', () => client.destroy());
    return secure;
  }

  /** Connects to the branch's Postgres, sends the startup message (and anything read after it), then pipes. */
  private async pipe(stream: Duplex, first: Buffer, reader: Reader): Promise<void> {
    const port = await this.target.upstream();
    const upstream = net.connect({ host: '127.0.0.1', port });
    this.track(upstream);
    await new Promise<void>((resolve, reject) => {
      upstream.once('connect', resolve);
      upstream.once('error', reject);
    });
    upstream.write(first);
    const rest = reader.detach();
    if (rest.length > 0) upstream.write(rest);
    const closeBoth = () => {
      stream.destroy();
      upstream.destroy();
    };
    stream.once('close', closeBoth);
    upstream.once('close', closeBoth);
    stream.pipe(upstream);
    upstream.pipe(stream);
    stream.resume();
  }
}

class ProtocolError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Buffers what a stream sends until `read(n)` takes it; `detach` hands the rest over and stops listening. */
class Reader {
  private buffered = Buffer.alloc(0);
  private waiting: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  private ended = false;
  private readonly onData = (chunk: Buffer) => {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    this.settle();
  };
  private readonly onEnd = () => {
    this.ended = true;
    this.settle();
  };

  constructor(private readonly stream: Duplex) {
    stream.on('data', this.onData);
    stream.once('end', this.onEnd);
    stream.once('close', this.onEnd);
  }

  read(n: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.waiting = { n, resolve, reject };
      this.settle();
    });
  }

  detach(): Buffer {
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.stream.off('close', this.onEnd);
    this.stream.pause();
    const rest = this.buffered;
    this.buffered = Buffer.alloc(0);
    return rest;
  }

  private settle(): void {
    const waiting = this.waiting;
    if (!waiting) return;
    if (this.buffered.length >= waiting.n) {
      this.waiting = undefined;
      const out = this.buffered.subarray(0, waiting.n);
      this.buffered = this.buffered.subarray(waiting.n);
      waiting.resolve(out);
    } else if (this.ended) {
      this.waiting = undefined;
      waiting.reject(new ProtocolError('08006', 'the client closed the connection'));
    }
  }
}

type StartupParams = Record<string, string | undefined> & { user?: string; options?: string };

function parseStartup(body: Buffer): StartupParams {
  const params: StartupParams = {};
  const parts = body.toString('utf8').split('\0');
  for (let i = 0; i + 1 < parts.length; i += 2) {
    if (parts[i] === '') break;
    params[parts[i]!] = parts[i + 1];
  }
  return params;
}

function startupMessage(params: StartupParams): Buffer {
  const pairs = Object.entries(params).filter((entry): entry is [string, string] => entry[1] !== undefined);
  const payload = Buffer.from(`${pairs.map(([k, v]) => `${k}\0${v}\0`).join('')}\0`, 'utf8');
  const header = Buffer.alloc(8);
  header.writeInt32BE(8 + payload.length, 0);
  header.writeInt32BE(PROTOCOL_3, 4);
  return Buffer.concat([header, payload]);
}

/** A FATAL ErrorResponse, as Postgres sends one before closing. */
function errorResponse(code: string, message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0\0`, 'utf8');
  const header = Buffer.alloc(5);
  header.write('E', 0);
  header.writeInt32BE(4 + fields.length, 1);
  return Buffer.concat([header, fields]);
}

/**
 * The sandbox's HTTP layer, shared by every emulator: a small router on node:http, request bodies
 * (plain or gzip/deflate), the service's own error shape, an `x-request-id` on every response, and
 * the fault injector that tests use to make the sandbox misbehave like a real cloud API.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const MAX_BODY_BYTES = 16 * 1024 * 1024;

/** An error answered in the service's error shape. `details` are service-specific fields. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** A non-default response; a handler's plain return value is a 200 JSON body. */
export class Reply {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

export interface RequestContext {
  readonly method: string;
  /** The pathname, still percent-encoded. */
  readonly path: string;
  /** Path parameters, decoded. */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly headers: http.IncomingHttpHeaders;
  readonly requestId: string;
  /** The body, decompressed. */
  body(): Promise<Buffer>;
  /** The body parsed as JSON (an empty body is `undefined`); malformed JSON is a 400. */
  json(): Promise<unknown>;
  /** The body parsed as `application/x-www-form-urlencoded`. */
  form(): Promise<URLSearchParams>;
}

export type RouteHandler = (ctx: RequestContext) => Promise<unknown> | unknown;

export interface Route {
  readonly method: string;
  /** Relative to the service prefix; `:name` segments are parameters, e.g. `/projects/:project/sessions`. */
  readonly path: string;
  readonly handler: RouteHandler;
}

/** One emulated API, mounted under a path prefix. */
export interface Service {
  /** e.g. `/cognite`. */
  readonly prefix: string;
  readonly routes: readonly Route[];
  /** The service's error body for a status and message (also used for injected faults). */
  errorBody(error: HttpError): unknown;
}

// ------------------------------------------------------------------------------ fault injection

export interface FaultRule {
  /** Default: any method. */
  readonly method?: string;
  /** A string matches the exact pathname; a RegExp is tested against the pathname. */
  readonly path: string | RegExp;
  /** How many matching requests the rule applies to. @default 1 */
  readonly times?: number;
  /** Answer with this status and the service's error body instead of handling the request. */
  readonly status?: number;
  /** With `status`: send a Retry-After header. */
  readonly retryAfterSeconds?: number;
  /** Wait this long first (then handle normally, or apply `status`/`drop`). */
  readonly delayMs?: number;
  /**
   * Destroy the socket: `before` handling, or `after` handling normally (the request took effect,
   * the response is lost).
   */
  readonly drop?: 'before' | 'after';
}

export interface AppliedFault {
  readonly method: string;
  readonly path: string;
  /** `'429'`, `'503'`, ... for a status; `'drop-before'`, `'drop-after'`, `'delay'`. */
  readonly fault: string;
}

export interface FaultInjector {
  add(rule: FaultRule): void;
  clear(): void;
  /** Requests a rule applied to, oldest first. */
  readonly applied: ReadonlyArray<AppliedFault>;
}

interface ActiveRule {
  readonly rule: FaultRule;
  remaining: number;
}

/** Rules apply in the order they were added; a request takes the first rule that matches it. */
export class Faults implements FaultInjector {
  private rules: ActiveRule[] = [];
  private readonly log: AppliedFault[] = [];

  get applied(): ReadonlyArray<AppliedFault> {
    return this.log;
  }

  add(rule: FaultRule): void {
    if (rule.status === undefined && rule.drop === undefined && rule.delayMs === undefined) {
      throw new Error('a fault rule needs status, drop or delayMs');
    }
    if (rule.status !== undefined && rule.drop !== undefined) throw new Error('a fault rule takes status or drop, not both');
    this.rules.push({ rule, remaining: rule.times ?? 1 });
  }

  clear(): void {
    this.rules = [];
    this.log.length = 0;
  }

  /** Takes (and counts) the rule for this request, if any. */
  take(method: string, path: string): FaultRule | undefined {
    const active = this.rules.find(({ rule }) => {
      if (rule.method && rule.method.toUpperCase() !== method) return false;
      if (typeof rule.path === 'string') return rule.path === path;
      rule.path.lastIndex = 0; // a /g or /y RegExp is stateful
      return rule.path.test(path);
    });
    if (!active) return undefined;
    active.remaining -= 1;
    if (active.remaining <= 0) this.rules = this.rules.filter((r) => r !== active);
    const { rule } = active;
    const fault = rule.status !== undefined ? String(rule.status) : rule.drop ? `drop-${rule.drop}` : 'delay';
    this.log.push({ method, path, fault });
    return rule;
  }
}

// ------------------------------------------------------------------------------ server

interface CompiledRoute {
  readonly service: Service;
  readonly method: string;
  readonly segments: readonly string[];
  readonly handler: RouteHandler;
}

/** The answer when no service owns the path. */
const fallbackService: Service = {
  prefix: '',
  routes: [],
  errorBody: (error) => ({ error: { code: error.status, message: error.message } }),
};

export class SandboxServer {
  private readonly services: Service[] = [];
  private readonly routes: CompiledRoute[] = [];
  private readonly server: http.Server;

  constructor(readonly faults: Faults = new Faults()) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    // Keep-alive sockets must not hold stop() up.
    this.server.keepAliveTimeout = 5_000;
  }

  mount(service: Service): void {
    this.services.push(service);
    // Longest prefix first, so `/a/b` wins over `/a`.
    this.services.sort((a, b) => b.prefix.length - a.prefix.length);
    for (const route of service.routes) {
      this.routes.push({
        service,
        method: route.method.toUpperCase(),
        segments: splitPath(service.prefix + route.path),
        handler: route.handler,
      });
    }
  }

  /** Listens on 127.0.0.1; resolves to the port. */
  async listen(port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private serviceFor(path: string): Service {
    return this.services.find((s) => path === s.prefix || path.startsWith(`${s.prefix}/`)) ?? fallbackService;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const requestId = randomBytes(8).toString('hex');
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const method = (req.method ?? 'GET').toUpperCase();
    const path = url.pathname;
    const service = this.serviceFor(path);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      if (res.destroyed) return;
      const text = body === undefined ? '' : JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
        'x-request-id': requestId,
        ...headers,
      });
      res.end(text);
    };
    const sendError = (error: HttpError) => send(error.status, service.errorBody(error), error.headers);

    const fault = this.faults.take(method, path);
    if (fault?.delayMs) await sleep(fault.delayMs);
    if (fault?.drop === 'before') {
      req.socket.destroy();
      return;
    }
    if (fault?.status !== undefined) {
      const headers: Record<string, string> = {};
      if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
      req.resume(); // discard the body
      sendError(new HttpError(fault.status, faultMessage(fault.status), {}, headers));
      return;
    }

    let status: number;
    let body: unknown;
    let headers: Record<string, string> = {};
    try {
      const result = await this.dispatch(req, method, url, requestId);
      if (result instanceof Reply) ({ status, body, headers } = result);
      else [status, body] = [200, result];
    } catch (error) {
      const httpError = error instanceof HttpError ? error : internalError(error, method, path);
      [status, body, headers] = [httpError.status, service.errorBody(httpError), httpError.headers];
    }
    if (fault?.drop === 'after') {
      // The request took effect; the client never hears about it.
      req.socket.destroy();
      return;
    }
    send(status, body, headers);
  }

  private async dispatch(req: http.IncomingMessage, method: string, url: URL, requestId: string): Promise<unknown> {
    const segments = splitPath(url.pathname);
    let pathMatched = false;
    for (const route of this.routes) {
      const params = matchSegments(route.segments, segments);
      if (!params) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      return route.handler(requestContext(req, method, url, params, requestId));
    }
    req.resume();
    if (pathMatched) throw new HttpError(405, `Method ${method} is not allowed on ${url.pathname}`);
    throw new HttpError(404, `No such endpoint: ${method} ${url.pathname}`);
  }
}

function requestContext(
  req: http.IncomingMessage,
  method: string,
  url: URL,
  params: Record<string, string>,
  requestId: string,
): RequestContext {
  let body: Promise<Buffer> | undefined;
  const readBody = () => (body ??= readRequestBody(req));
  return {
    method,
    path: url.pathname,
    params,
    query: url.searchParams,
    headers: req.headers,
    requestId,
    body: readBody,
    async json() {
      const buffer = await readBody();
      if (buffer.length === 0) return undefined;
      try {
        return JSON.parse(buffer.toString('utf8')) as unknown;
      } catch {
        throw new HttpError(400, 'The request body is not valid JSON');
      }
    },
    async form() {
      return new URLSearchParams((await readBody()).toString('utf8'));
    },
  };
}

async function readRequestBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `The request body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const raw = Buffer.concat(chunks);
  const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
  try {
    if (encoding === 'gzip' || encoding === 'x-gzip') return await gunzip(raw);
    if (encoding === 'deflate') return await inflate(raw);
  } catch {
    throw new HttpError(400, `The request body is not valid ${encoding} data`);
  }
  if (encoding !== 'identity' && encoding !== '') throw new HttpError(415, `Unsupported Content-Encoding: ${encoding}`);
  return raw;
}

function splitPath(path: string): string[] {
  return path.split('/').filter((segment) => segment !== '');
}

function matchSegments(pattern: readonly string[], actual: readonly string[]): Record<string, string> | undefined {
  if (pattern.length !== actual.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const a = actual[i]!;
    if (p.startsWith(':')) {
      try {
        params[p.slice(1)] = decodeURIComponent(a);
      } catch {
        return undefined;
      }
    } else if (p !== a) {
      return undefined;
    }
  }
  return params;
}

function internalError(error: unknown, method: string, path: string): HttpError {
  // A sandbox bug, not an emulated failure: say so loudly.
  process.stderr.write(`pgstacks sandbox: ${method} ${path} failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  return new HttpError(500, `Internal sandbox error: ${error instanceof Error ? error.message : String(error)}`);
}

function faultMessage(status: number): string {
  if (status === 429) return 'Too many requests (injected fault)';
  return `${http.STATUS_CODES[status] ?? 'Error'} (injected fault)`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The sandbox's HTTP layer, shared by every emulator: a small router on node:http, request bodies
 * (plain or gzip/deflate, size-limited after decompression), routes with zod schemas for their
 * input (route.ts), the service's own error shape, an `x-request-id` on every response, a request
 * log, and the fault injector.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { DEFAULT_MAX_BODY_BYTES, readRequestBody } from './body';
import { HttpError } from './errors';
import { Faults } from './faults';
import { runRoute, type InvalidInputFormatter, type Route } from './route';

export { HttpError } from './errors';
export { Faults, type AppliedFault, type FaultInjector, type FaultRule } from './faults';
export { listIssues, route, type InputPart, type InputSchema, type InvalidInputFormatter, type Route, type RouteInput, type RouteSpec } from './route';

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
  /** Path parameters, decoded (unvalidated; a route's `params` schema gives the checked ones). */
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

/** One emulated API, mounted under a path prefix. */
export interface Service {
  /** e.g. `/cognite`. */
  readonly prefix: string;
  readonly routes: readonly Route[];
  /** The service's error body for a status and message (also used for injected faults). */
  errorBody(error: HttpError): unknown;
  /** The service's answer to input its routes' schemas reject. @default 400 listing the issues */
  readonly invalidInput?: InvalidInputFormatter;
  /**
   * Turns an unexpected error (say, a value its database refuses) into a client error; `undefined`
   * leaves it a 500, which always means a sandbox bug.
   */
  translateError?(error: unknown): HttpError | undefined;
}

// ------------------------------------------------------------------------------ server

interface CompiledRoute {
  readonly service: Service;
  readonly route: Route;
  readonly method: string;
  readonly segments: readonly string[];
}

/** The answer when no service owns the path. */
const fallbackService: Service = {
  prefix: '',
  routes: [],
  errorBody: (error) => ({ error: { code: error.status, message: error.message } }),
};

/** A request the server received, as the request log keeps it. */
export interface RequestRecord {
  readonly method: string;
  /** The pathname, still percent-encoded. */
  readonly path: string;
  /** The query string, still percent-encoded, without the `?` (empty when there is none). */
  readonly query: string;
  /** The status answered; undefined while the request is handled, or when the connection was dropped. */
  status?: number;
}

/** The request log keeps this many of the latest requests, so a long-running sandbox stays small. */
const MAX_LOGGED_REQUESTS = 100_000;

export interface SandboxServerOptions {
  readonly faults?: Faults;
  /** The limit on a request body, before and after decompression. @default 16 MiB */
  readonly maxBodyBytes?: number;
}

export class SandboxServer {
  readonly faults: Faults;
  /** Requests received, oldest first (the latest 100 000); clear it with `requests.length = 0`. */
  readonly requests: RequestRecord[] = [];
  private readonly maxBodyBytes: number;
  private readonly services: Service[] = [];
  private readonly routes: CompiledRoute[] = [];
  private readonly server: http.Server;

  constructor(options: SandboxServerOptions = {}) {
    this.faults = options.faults ?? new Faults();
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.server = http.createServer((req, res) => void this.handle(req, res));
    // Keep-alive sockets must not hold stop() up.
    this.server.keepAliveTimeout = 5_000;
  }

  mount(service: Service): void {
    this.services.push(service);
    // Longest prefix first, so `/a/b` wins over `/a`.
    this.services.sort((a, b) => b.prefix.length - a.prefix.length);
    for (const route of service.routes) {
      this.routes.push({ service, route, method: route.method.toUpperCase(), segments: splitPath(service.prefix + route.path) });
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
    const record: RequestRecord = { method, path, query: url.search.slice(1) };
    this.requests.push(record);
    if (this.requests.length > MAX_LOGGED_REQUESTS) this.requests.shift();
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      if (res.destroyed) return;
      record.status = status;
      const text = body === undefined ? '' : JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
        'x-request-id': requestId,
        ...headers,
      });
      res.end(text);
    };

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
      const error = new HttpError(fault.status, faultMessage(fault.status), {}, headers);
      send(error.status, service.errorBody(error), error.headers);
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
      const httpError = error instanceof HttpError ? error : (service.translateError?.(error) ?? internalError(error, method, path));
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
    for (const compiled of this.routes) {
      const params = matchSegments(compiled.segments, segments);
      if (!params) continue;
      pathMatched = true;
      if (compiled.method !== method) continue;
      const ctx = requestContext(req, method, url, params, requestId, this.maxBodyBytes);
      return runRoute(compiled.service, compiled.route, ctx);
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
  maxBodyBytes: number,
): RequestContext {
  let body: Promise<Buffer> | undefined;
  const readBody = () => (body ??= readRequestBody(req, maxBodyBytes));
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

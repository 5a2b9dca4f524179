/**
 * The base of every service client: JSON over undici (http.ts) with a base URL, default headers,
 * an auth provider refreshed once on 401, a retry policy per call, per-request timeouts, abort
 * signals, retry log lines, typed errors (errors.ts) and cursor pagination. A service client
 * (cognite.ts) supplies its name, its error-body parser and its paths; nothing else is hand-written.
 */
import type { Dispatcher } from 'undici';
import { apiError, LostResponseError, ServiceError, UnreachableError, type ApiError, type ApiErrorInit, type ParsedErrorBody } from './errors';
import { ANSWER_LOST, NOT_SENT, RETRY_IDEMPOTENT, RETRY_ONLY_IF_NOT_DONE, send, type HttpResponse, type RetryPolicy, type RetryTiming } from './http';
import type { AuthProvider } from './oauth';

export type HttpMethod = Dispatcher.HttpMethod;
/** Query parameters; `undefined` ones are left out. */
export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

export interface JsonApiOptions {
  /** The service's name in errors and log lines, e.g. `CDF`, `Databricks`. */
  readonly service: string;
  /** Prefix of every call's path, e.g. `https://acme.cloud.databricks.com/api/2.0`. */
  readonly baseUrl: string;
  /** Sent with every request (user agent, SDK markers). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly auth?: AuthProvider;
  /**
   * The policy of calls that name none. @default by method: GET, HEAD, PUT, DELETE and OPTIONS
   * are idempotent ({@link RETRY_IDEMPOTENT}); POST and PATCH could duplicate
   * ({@link RETRY_ONLY_IF_NOT_DONE}). A service whose POSTs are reads or detect their own
   * duplicates (CDF) may say RETRY_IDEMPOTENT and mark its unsafe calls.
   */
  readonly retry?: RetryPolicy;
  readonly timing?: RetryTiming;
  /** Per request: how long to wait for the answer's headers, then between body chunks. @default 60000 */
  readonly timeoutMs?: number;
  /** Aborts every call (a handler passes `ctx.signal`, the resource's deadline). */
  readonly signal?: AbortSignal;
  /** One line per retry. */
  readonly log?: (message: string) => void;
  /**
   * Reads the service's error body (parsed JSON, or `undefined` when it is not JSON) into its
   * message and extra fields. @default `message`, `error.message`, `error` or `error_description`
   */
  readonly parseError?: (body: unknown) => ParsedErrorBody | undefined;
  /** The error to throw for an error answer. @default {@link apiError}: NotFoundError, ConflictError, … by status */
  readonly createError?: (init: ApiErrorInit) => ApiError;
  /** The answer header that carries the request id. @default 'x-request-id' */
  readonly requestIdHeader?: string;
}

export interface CallOptions {
  readonly query?: Query;
  /** Sent as JSON. */
  readonly body?: unknown;
  /** Overrides the client's default, e.g. RETRY_ONLY_IF_NOT_DONE for a create of something unnamed. */
  readonly retry?: RetryPolicy;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
  /** Aborts this call (as well as the client's signal). */
  readonly signal?: AbortSignal;
}

export interface ListOptions extends Omit<CallOptions, 'body'> {
  /** The answer's field with the page's items. @default 'items' */
  readonly items?: string;
  /** The answer's field with the next page's cursor. @default 'nextCursor' (Databricks: 'next_page_token') */
  readonly cursorField?: string;
  /** The query parameter that asks for that page. @default 'cursor' (Databricks: 'page_token') */
  readonly cursorParam?: string;
}

const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

/** A JSON API client; a service client wraps one and adds its own methods. */
export class JsonApi {
  constructor(readonly options: JsonApiOptions) {}

  /** Starts getting the credentials the first call will send (an access token), without waiting for them. */
  warmUp(): void {
    this.options.auth?.warmUp?.();
  }

  /** The URL of `path` (below the base URL) with `query`. */
  url(path: string, query: Query = {}): URL {
    const url = new URL(`${this.options.baseUrl.replace(/\/+$/, '')}${path}`);
    for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, String(value));
    return url;
  }

  /**
   * One call: the parsed JSON answer (`{}` for an empty one), or a {@link ServiceError}:
   * ApiError (and its kinds) for an error status after the retries, LostResponseError when the
   * request was sent but no answer came, UnreachableError when it never got there. A 401 makes
   * the auth provider refresh, and the call is sent once more. An abort is thrown as it is.
   */
  async call<T = unknown>(method: HttpMethod, path: string, options: CallOptions = {}): Promise<T> {
    const { service, log } = this.options;
    const url = this.url(path, options.query);
    const call = `${method} ${url.pathname}`;
    const signal = anySignal(this.options.signal, options.signal);
    const retry = options.retry ?? this.options.retry ?? (IDEMPOTENT_METHODS.has(method) ? RETRY_IDEMPOTENT : RETRY_ONLY_IF_NOT_DONE);
    for (let refreshed = false; ; refreshed = true) {
      const auth = (await this.options.auth?.headers()) ?? {};
      let response: HttpResponse;
      try {
        response = await send({
          method,
          url: url.toString(),
          headers: {
            accept: 'application/json',
            ...this.options.headers,
            ...auth,
            ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
            ...options.headers,
          },
          body: options.body === undefined ? undefined : JSON.stringify(options.body),
          retry,
          timing: this.options.timing,
          onRetry: (reason, delay, n) => log?.(`${call} answered ${reason}; retry ${n} in ${(delay / 1000).toFixed(1)}s`),
          signal,
          timeoutMs: options.timeoutMs ?? this.options.timeoutMs,
        });
      } catch (err) {
        throw this.networkError(err, call, signal);
      }
      // A token can be revoked before it expires: get a new one and try once more.
      if (response.status === 401 && !refreshed && this.options.auth?.refresh) {
        await this.options.auth.refresh(auth);
        continue;
      }
      const json = parseJson(response.text);
      if (response.status >= 200 && response.status < 300) {
        if (json === INVALID) throw new ServiceError({ service, call, status: response.status, serviceMessage: 'not JSON' }, `${call}: ${service} answered ${response.status} with a body that is not JSON: ${response.text.slice(0, 200)}`);
        return (json ?? {}) as T;
      }
      const parsed = (this.options.parseError ?? parseErrorBody)(json === INVALID ? undefined : json);
      throw (this.options.createError ?? apiError)({
        service,
        call,
        status: response.status,
        serviceMessage: parsed?.message || response.text.slice(0, 200) || 'no message',
        requestId: header(response.headers, this.options.requestIdHeader ?? 'x-request-id'),
        details: parsed?.details,
      });
    }
  }

  /** GETs `path` page by page, following the cursor to the end; all the items, in order. */
  async listAll<T>(path: string, options: ListOptions = {}): Promise<T[]> {
    const { items = 'items', cursorField = 'nextCursor', cursorParam = 'cursor', query, ...call } = options;
    const all: T[] = [];
    const seen = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await this.call<Record<string, unknown>>('GET', path, { ...call, query: { ...query, [cursorParam]: cursor } });
      all.push(...((page[items] as T[] | undefined) ?? []));
      cursor = (page[cursorField] as string | undefined) || undefined;
      // A service that hands back a cursor it gave before would keep us here forever.
      if (cursor && seen.has(cursor)) throw new Error(`GET ${this.url(path).pathname}: ${this.options.service} returned the cursor '${cursor}' twice`);
      if (cursor) seen.add(cursor);
    } while (cursor);
    return all;
  }

  /** A failure without an answer, as a typed error: was the request sent or not? */
  private networkError(err: unknown, call: string, signal: AbortSignal | undefined): unknown {
    if (signal?.aborted) return err; // the deadline or the caller: not the service's doing
    const code = (err as { code?: string }).code ?? '';
    const init = { service: this.options.service, call, serviceMessage: `${code}: ${(err as Error).message}`, cause: err };
    if (NOT_SENT.includes(code)) return new UnreachableError(init);
    if (ANSWER_LOST.includes(code)) return new LostResponseError(init);
    return err;
  }
}

const INVALID = Symbol('invalid JSON');

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return INVALID;
  }
}

/** The usual shapes: `{message}` (Databricks, with `error_code`), `{error: {message}}`, `{error, error_description}`. */
function parseErrorBody(body: unknown): ParsedErrorBody | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as { message?: unknown; error?: unknown; error_description?: unknown; error_code?: unknown };
  const nested = b.error && typeof b.error === 'object' ? (b.error as { message?: unknown }).message : undefined;
  const message = [b.message, nested, b.error_description, b.error].find((m): m is string => typeof m === 'string' && m.length > 0);
  return { message, details: typeof b.error_code === 'string' ? { error_code: b.error_code } : undefined };
}

function header(headers: HttpResponse['headers'], name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

function anySignal(...signals: Array<AbortSignal | undefined>): AbortSignal | undefined {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  return present.length > 1 ? AbortSignal.any(present) : present[0];
}

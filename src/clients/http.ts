/**
 * HTTP plumbing shared by the service clients: one undici agent with timeouts and undici's retry
 * interceptor, and the two retry policies a handler chooses between per call.
 */
import type { Agent as AgentClass, Dispatcher, interceptors } from 'undici';

// undici's own modules, one by one: its index also loads fetch, WebSocket, cookies and the mock
// agents, which cost every engine run ~20 ms to load and compile, for nothing a client uses.
const Agent = require('undici/lib/dispatcher/agent') as typeof AgentClass;
const retryInterceptor = require('undici/lib/interceptor/retry') as typeof interceptors.retry;

/** Which failures a call may be retried on. */
export interface RetryPolicy {
  readonly statusCodes: readonly number[];
  readonly errorCodes: readonly string[];
}

/** Errors where the request never reached the server, so a retry cannot duplicate anything. */
export const NOT_SENT: readonly string[] = ['ECONNREFUSED', 'ENOTFOUND', 'ENETDOWN', 'ENETUNREACH', 'EHOSTDOWN', 'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT'];

/** Errors after the request was (or may have been) sent: the answer is lost, the work may be done. */
export const ANSWER_LOST: readonly string[] = ['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED'];

/** Safe to repeat: reads, and writes that are idempotent or detect their own duplicates. */
export const RETRY_IDEMPOTENT: RetryPolicy = {
  statusCodes: [429, 500, 502, 503, 504],
  errorCodes: [...NOT_SENT, 'ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT'],
};

/** A call that creates something unnamed: retried only where the server certainly did nothing. */
export const RETRY_ONLY_IF_NOT_DONE: RetryPolicy = { statusCodes: [429], errorCodes: NOT_SENT };

export interface RetryTiming {
  /** @default 5 */
  readonly maxRetries: number;
  /** First backoff; doubles each attempt, with full jitter. @default 500 */
  readonly minDelayMs: number;
  /** Cap on one wait, Retry-After included. @default 30000 */
  readonly maxDelayMs: number;
  /** How a wait between attempts is spent; tests record it instead of sleeping. @default a timer */
  readonly wait?: (ms: number) => Promise<void>;
}

export const DEFAULT_TIMING: RetryTiming = { maxRetries: 5, minDelayMs: 500, maxDelayMs: 30_000 };

export interface HttpResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

export interface SendOptions {
  readonly method: Dispatcher.HttpMethod;
  readonly url: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly retry: RetryPolicy;
  readonly timing?: RetryTiming;
  /** Called before each retry, for a progress line. */
  readonly onRetry?: (reason: string, delayMs: number, attempt: number) => void;
  readonly signal?: AbortSignal;
  /** How long to wait for the answer's headers, and then between body chunks. @default 60000 */
  readonly timeoutMs?: number;
}

let agent: Dispatcher | undefined;

function dispatcher(): Dispatcher {
  agent ??= new Agent({ connectTimeout: 10_000 }).compose(retryInterceptor({ throwOnError: false }));
  return agent;
}

type RetryCallback = (err: Error | null) => void;
type RetryError = Error & { statusCode?: number; code?: string; headers?: Record<string, string | string[] | undefined> };

/** undici's retry hook: our policy, exponential backoff with full jitter, and Retry-After. */
function retryHook(options: SendOptions) {
  const timing = options.timing ?? DEFAULT_TIMING;
  return (err: RetryError, { state }: { state: { counter: number } }, done: RetryCallback) => {
    const byStatus = err.statusCode !== undefined && err.code === 'UND_ERR_REQ_RETRY';
    const retryable = byStatus ? options.retry.statusCodes.includes(err.statusCode as number) : options.retry.errorCodes.includes(err.code ?? '');
    if (!retryable || state.counter > timing.maxRetries || options.signal?.aborted) return done(err);
    const retryAfter = Number(err.headers?.['retry-after']);
    const backoff = Math.random() * Math.min(timing.minDelayMs * 2 ** (state.counter - 1), timing.maxDelayMs);
    const delay = Math.min(retryAfter > 0 ? retryAfter * 1000 : backoff, timing.maxDelayMs);
    options.onRetry?.(byStatus ? `HTTP ${err.statusCode}` : (err.code as string), delay, state.counter);
    if (timing.wait) void timing.wait(delay).then(() => done(null), done);
    else setTimeout(() => done(null), delay);
  };
}

/**
 * Sends one request with the call's retry policy; returns the final response, whatever its status.
 * Through undici's dispatch with a handler that gathers the body: its request API would wrap each
 * response in a stream and an async resource, a third of the client's CPU for small JSON answers.
 */
export function send(options: SendOptions): Promise<HttpResponse> {
  const url = new URL(options.url);
  return new Promise((resolve, reject) => {
    dispatcher().dispatch(
      {
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: options.method,
        headers: options.headers,
        body: options.body,
        headersTimeout: options.timeoutMs ?? 60_000,
        bodyTimeout: options.timeoutMs ?? 60_000,
        retryOptions: { retry: retryHook(options), throwOnError: false },
      } as Dispatcher.DispatchOptions,
      new Gather(options.signal, resolve, reject),
    );
  });
}

/** A response, gathered whole; the call's signal aborts it. */
class Gather implements Dispatcher.DispatchHandler {
  private readonly chunks: Buffer[] = [];
  private status = 0;
  private headers: HttpResponse['headers'] = {};
  private stopListening?: () => void;

  constructor(
    private readonly signal: AbortSignal | undefined,
    private readonly resolve: (response: HttpResponse) => void,
    private readonly reject: (err: Error) => void,
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    const { signal } = this;
    if (!signal || this.stopListening) return; // a retry starts the request again
    if (signal.aborted) return controller.abort(signal.reason);
    const abort = () => controller.abort(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    this.stopListening = () => signal.removeEventListener('abort', abort);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    this.status = statusCode;
    this.headers = headers;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    this.stopListening?.();
    this.resolve({ status: this.status, headers: this.headers, text: Buffer.concat(this.chunks).toString('utf8') });
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.stopListening?.();
    this.reject(err);
  }
}

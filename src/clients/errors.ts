/**
 * The errors every service client throws, so handlers can decide on the kind of failure
 * (`err instanceof NotFoundError`) without knowing the service's error shape.
 *
 * - {@link ServiceError}: the base; names the service and the call (`METHOD path`).
 * - {@link ApiError}: the service answered with an error status. A service may throw its own
 *   subclass (CogniteApiError) to carry extra fields.
 * - {@link NotFoundError}, {@link ConflictError}, {@link RateLimitedError}: kinds of ApiError by
 *   status (404, 409, 429 after the retries). `instanceof` tests the status, so a service's own
 *   subclass answers to them too.
 * - {@link LostResponseError}: the request was sent but no answer came; it may have been carried out.
 * - {@link UnreachableError}: the request never reached the service; nothing was done.
 */

export interface ServiceErrorInit {
  /** The service's name in messages, e.g. `CDF`. */
  readonly service: string;
  /** `METHOD path`, e.g. `POST /api/v1/projects/acme/sessions`. */
  readonly call: string;
  /** What went wrong, in the service's words where it said. */
  readonly serviceMessage: string;
  readonly status?: number;
  readonly requestId?: string;
  /** Extra fields the service's error body carries (CDF's `missing`, `duplicated`). */
  readonly details?: Readonly<Record<string, unknown>>;
  readonly cause?: unknown;
}

/** Base of every error a service client throws about one call. */
export class ServiceError extends Error {
  override name = 'ServiceError';
  readonly service: string;
  readonly call: string;
  readonly serviceMessage: string;
  readonly status: number | undefined;
  readonly requestId: string | undefined;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(init: ServiceErrorInit, message: string) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.service = init.service;
    this.call = init.call;
    this.serviceMessage = init.serviceMessage;
    this.status = init.status;
    this.requestId = init.requestId;
    this.details = init.details ?? {};
  }
}

export interface ApiErrorInit extends ServiceErrorInit {
  readonly status: number;
}

/**
 * The service answered with an error status (after the call's retries). The message reads
 * `<call>: <service> answered <status>: <message> (<detail>: <value>)… [request id <id>]`.
 */
export class ApiError extends ServiceError {
  override name = 'ApiError';
  declare readonly status: number;

  constructor(init: ApiErrorInit) {
    const details = Object.entries(init.details ?? {})
      .filter(([, value]) => value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0))
      .map(([key, value]) => ` (${key}: ${typeof value === 'string' ? value : JSON.stringify(value)})`)
      .join('');
    super(
      init,
      `${init.call ? `${init.call}: ` : ''}${init.service} answered ${init.status}: ${init.serviceMessage}${details}` +
        (init.requestId ? ` [request id ${init.requestId}]` : ''),
    );
  }
}

/** `instanceof` by status, so any ApiError subclass (a service's own) counts as the kind too. */
const hasStatus = (value: unknown, status: number): boolean => value instanceof ApiError && value.status === status;

/** 404: the object (or the parent in the path) does not exist. */
export class NotFoundError extends ApiError {
  override name = 'NotFoundError';
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasStatus(value, 404);
  }
}

/** 409: the object exists already, or the change conflicts with its state. */
export class ConflictError extends ApiError {
  override name = 'ConflictError';
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasStatus(value, 409);
  }
}

/** 429 that outlasted the call's retries. */
export class RateLimitedError extends ApiError {
  override name = 'RateLimitedError';
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasStatus(value, 429);
  }
}

/**
 * The request was sent, but the connection broke or timed out before the whole answer came: the
 * service may have carried it out. A call that creates something unnamed must check what it made
 * before trying again.
 */
export class LostResponseError extends ServiceError {
  override name = 'LostResponseError';
  constructor(init: Omit<ServiceErrorInit, 'status'>) {
    super(init, `${init.call}: no answer from ${init.service} (${init.serviceMessage}); the request may have been carried out`);
  }
}

/** The request never reached the service (refused, unknown host, connect timeout): nothing was done. */
export class UnreachableError extends ServiceError {
  override name = 'UnreachableError';
  constructor(init: Omit<ServiceErrorInit, 'status'>) {
    super(init, `${init.call}: could not reach ${init.service} (${init.serviceMessage})`);
  }
}

/** What a service's error body says: its message and any extra fields worth keeping. */
export interface ParsedErrorBody {
  readonly message?: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** The default error for an answer: the kind by status, or a plain ApiError. */
export function apiError(init: ApiErrorInit): ApiError {
  switch (init.status) {
    case 404:
      return new NotFoundError(init);
    case 409:
      return new ConflictError(init);
    case 429:
      return new RateLimitedError(init);
    default:
      return new ApiError(init);
  }
}

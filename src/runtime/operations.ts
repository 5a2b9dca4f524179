/**
 * Awaiting long-running operations inside a handler (Databricks Lakebase creates, updates and
 * deletes answer `{ name: 'operations/…', done, error?, response? }`, polled with GET).
 *
 * - Polls with exponential backoff and full jitter (1 s doubling to 15 s).
 * - Prints `still waiting for <what> (<elapsed>)` through `ctx.log` every 30 s.
 * - Stops at the resource's deadline (`ctx.signal`) with an error naming the operation.
 * - Checkpoints `{ operation: <id> }` as soon as the operation is started, so a handler killed
 *   while polling leaves the id in the intent record; on the next apply the engine hands it to
 *   `adopt` as `ctx.recovery`, and {@link resumeOperation} polls the same operation instead of
 *   starting a second one.
 *
 * A create handler and its adopt, for a service whose create answers an operation:
 *
 * ```ts
 * async create(props, ctx) {
 *   const op = await awaitOperation({ what: `project ${props.name}`, start: (signal) => api.call('POST', '/projects', { body, signal }), poll }, ctx);
 *   return created(op.response);
 * },
 * async adopt(props, ctx) {
 *   const op = await resumeOperation({ what: `project ${props.name}`, poll }, ctx);
 *   return op ? created(op.response) : findByName(props.name);
 * },
 * ```
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { HandlerContext } from './resource-type';

/** The long-running operation shape of Google-style APIs (Databricks Lakebase among them). */
export interface LongRunningOperation<R = unknown> {
  /** The operation's id, e.g. `operations/1234` (or `projects/x/operations/1234`). */
  readonly name: string;
  readonly done?: boolean;
  readonly error?: { readonly code?: number | string; readonly error_code?: string; readonly message?: string; readonly details?: unknown };
  readonly response?: R;
  readonly metadata?: unknown;
}

/** Time for the poll loop; tests pass a fake one, so nothing sleeps for real. */
export interface OperationClock {
  now(): number;
  /** Resolves after `ms`; should reject when `signal` aborts (the loop checks it afterwards as well). */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /** In [0, 1), for the jitter. */
  random(): number;
}

export const systemClock: OperationClock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleep(ms, undefined, { signal }),
  random: () => Math.random(),
};

/** How to poll an operation and read its answers. The defaults fit {@link LongRunningOperation}. */
export interface PollOptions<Op> {
  /** What is awaited, for progress lines and errors, e.g. `project 'analytics' to be created`. */
  readonly what: string;
  /** Fetches the operation's current state. Pass `signal` on to the request. */
  poll(id: string, signal: AbortSignal): Promise<Op>;
  /** The operation's id. @default `op.name` */
  readonly idOf?: (op: Op) => string;
  /** Whether it has finished. @default `op.done === true` */
  readonly isDone?: (op: Op) => boolean;
  /** The service's message when it finished with an error; `undefined` for success. @default `op.error.message` */
  readonly errorOf?: (op: Op) => string | undefined;
  /** First backoff; doubles each poll, with full jitter. @default 1000 */
  readonly initialDelayMs?: number;
  /** Cap on one wait between polls. @default 15000 */
  readonly maxDelayMs?: number;
  /** How often a progress line is printed while waiting. @default 30000 */
  readonly progressEveryMs?: number;
  /** @default systemClock */
  readonly clock?: OperationClock;
  /**
   * Whether a poll error means the service no longer knows the operation (for
   * {@link resumeOperation}). @default a `status` of 404, as the clients' NotFoundError has
   */
  readonly isGone?: (err: unknown) => boolean;
}

export interface AwaitOperationOptions<Op> extends PollOptions<Op> {
  /**
   * Starts the operation and returns the service's first answer. Its id is checkpointed before
   * the first wait. Give `start` or `resume`, not both.
   */
  readonly start?: (signal: AbortSignal) => Promise<Op>;
  /** The id of an operation started earlier (an interrupted apply's), to poll instead of starting one. */
  readonly resume?: string;
}

/** What the helper needs of a handler context (a HandlerContext fits). */
export type OperationContext = Pick<HandlerContext, 'log' | 'checkpoint' | 'signal' | 'recovery'>;

/** The operation finished, with an error: `<what> failed: <service message> (operation <id>)`. */
export class OperationFailedError extends Error {
  override name = 'OperationFailedError';
  constructor(
    readonly operation: string,
    readonly what: string,
    readonly serviceMessage: string,
  ) {
    super(`${what} failed: ${serviceMessage} (operation ${operation})`);
  }
}

/** The resource's deadline passed while the operation was still running. */
export class OperationTimeoutError extends Error {
  override name = 'OperationTimeoutError';
  constructor(
    readonly operation: string,
    readonly what: string,
    elapsedMs: number,
  ) {
    super(`gave up waiting for ${what} after ${formatElapsed(elapsedMs)}: the deadline passed; operation ${operation} may still finish on the service's side`);
  }
}

/** The operation id an interrupted apply checkpointed (`ctx.recovery.operation`), if any. */
export function recoveredOperation(ctx: Pick<HandlerContext, 'recovery'>): string | undefined {
  const recovery = ctx.recovery;
  const id = recovery && typeof recovery === 'object' && !Array.isArray(recovery) ? recovery.operation : undefined;
  return typeof id === 'string' && id ? id : undefined;
}

/**
 * Starts an operation (or takes up `resume`) and polls it until it is done; returns the final
 * answer. Throws {@link OperationFailedError} when it ends in an error and
 * {@link OperationTimeoutError} at the deadline (`ctx.signal`); errors of `start` and `poll`
 * are thrown as they are (the client has retried what it safely could).
 */
export async function awaitOperation<Op = LongRunningOperation>(options: AwaitOperationOptions<Op>, ctx: OperationContext): Promise<Op> {
  if (!options.start === !options.resume) throw new Error(`awaitOperation(${options.what}): give either start or resume`);
  const clock = options.clock ?? systemClock;
  const { signal } = ctx;
  const started = clock.now();
  let id = options.resume;
  try {
    let op: Op;
    if (options.start) {
      signal.throwIfAborted();
      op = await options.start(signal);
      id = idOf(options, op);
      // Before anything else can fail: a handler killed from here on leaves the id for `adopt`.
      if (!isDone(options, op)) await ctx.checkpoint({ operation: id });
    } else {
      ctx.log(`resuming ${id}, started by an interrupted apply: waiting for ${options.what}`);
      op = await options.poll(id as string, signal);
    }
    let nextProgress = started + (options.progressEveryMs ?? 30_000);
    const progress = () => {
      if (clock.now() < nextProgress) return;
      ctx.log(`still waiting for ${options.what} (${formatElapsed(clock.now() - started)})`);
      nextProgress = clock.now() + (options.progressEveryMs ?? 30_000);
    };
    for (let attempt = 0; !isDone(options, op); attempt++) {
      const cap = Math.min((options.initialDelayMs ?? 1000) * 2 ** attempt, options.maxDelayMs ?? 15_000);
      const until = clock.now() + clock.random() * cap;
      // Sleep in pieces, so a progress line is on time even inside a long wait.
      while (clock.now() < until) {
        await clock.sleep(Math.min(until, nextProgress) - clock.now(), signal);
        signal.throwIfAborted();
        progress();
      }
      op = await options.poll(id as string, signal);
      progress();
    }
    const failure = (options.errorOf ?? defaultErrorOf)(op as never);
    if (failure !== undefined) throw new OperationFailedError(id as string, options.what, failure);
    return op;
  } catch (err) {
    if (!signal.aborted || err instanceof OperationFailedError) throw err;
    const timeout = new OperationTimeoutError(id ?? '(not started)', options.what, clock.now() - started);
    // Logged as well: the engine's own deadline error may win the race and be what it reports.
    ctx.log(timeout.message);
    throw timeout;
  }
}

/**
 * For `adopt` after an interrupted create: polls the operation the interrupted apply checkpointed
 * to its end. `undefined` when there is none, when the service no longer knows it (404), or when
 * it failed (nothing was made): the caller then looks for the object otherwise, or lets the
 * engine create it again.
 */
export async function resumeOperation<Op = LongRunningOperation>(options: PollOptions<Op>, ctx: OperationContext): Promise<Op | undefined> {
  const id = recoveredOperation(ctx);
  if (!id) return undefined;
  try {
    return await awaitOperation({ ...options, resume: id }, ctx);
  } catch (err) {
    if (err instanceof OperationFailedError) {
      ctx.log(`the interrupted apply's ${err.message}: nothing to take over from it`);
      return undefined;
    }
    if ((options.isGone ?? isNotFound)(err)) {
      ctx.log(`operation ${id} (${options.what}) is no longer known to the service`);
      return undefined;
    }
    throw err;
  }
}

// By shape, not by class: the runtime names no client (.dependency-cruiser.cjs).
const isNotFound = (err: unknown): boolean => (err as { status?: unknown } | undefined)?.status === 404;

function idOf<Op>(options: PollOptions<Op>, op: Op): string {
  const id = options.idOf ? options.idOf(op) : (op as { name?: unknown } | undefined)?.name;
  if (typeof id !== 'string' || !id) throw new Error(`${options.what}: the service's answer names no operation: ${JSON.stringify(op)?.slice(0, 200)}`);
  return id;
}

function isDone<Op>(options: PollOptions<Op>, op: Op): boolean {
  return options.isDone ? options.isDone(op) : (op as { done?: unknown } | undefined)?.done === true;
}

function defaultErrorOf(op: LongRunningOperation): string | undefined {
  if (!op?.error) return undefined;
  return op.error.message || JSON.stringify(op.error);
}

/** `45s`, `2m05s`. */
function formatElapsed(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

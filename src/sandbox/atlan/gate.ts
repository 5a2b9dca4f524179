/**
 * What every Atlan route passes through besides its own guard: the tenant's rate limit (over the
 * limit, 429 with Retry-After, and programmatic calls blocked for a minute, as Atlan documents),
 * bringing runs up to date with the clock before the request reads anything, and the
 * after-commit failures tests arm to answer 5xx for a request that took effect.
 */
import type { Clock } from '../clock';
import { HttpError } from '../errors';
import type { RequestContext, Route } from '../http';
import { atlanError } from './errors';

/** A request that takes effect and then is answered with an error (the sandbox's fault injector answers before handling). */
export interface AfterCommitFailure {
  /** Default: any method. */
  readonly method?: string;
  /** A string matches the exact pathname; a RegExp is tested against it. */
  readonly path: string | RegExp;
  /** @default 502 */
  readonly status?: number;
  /** How many matching requests fail so. @default 1 */
  readonly times?: number;
}

const WINDOW_MS = 60_000;
const BLOCK_MS = 60_000;

export class Gate {
  private failures: Array<{ rule: AfterCommitFailure; remaining: number }> = [];
  private windowStart = 0;
  private count = 0;
  private blockedUntil = 0;

  constructor(
    private readonly clock: Clock,
    private readonly rateLimitPerMinute: () => number | undefined,
    private readonly progress: () => Promise<void>,
  ) {}

  failAfterCommit(rule: AfterCommitFailure): void {
    this.failures.push({ rule, remaining: rule.times ?? 1 });
  }

  clearFailures(): void {
    this.failures = [];
  }

  /** Each route with the gate around it: limit first, then its guard, then progress, then the handler, then armed failures. */
  wrap(routes: readonly Route[]): Route[] {
    return routes.map((r) => ({
      ...r,
      guard: async (ctx: RequestContext) => {
        this.admit();
        const guarded: unknown = r.guard ? await r.guard(ctx) : undefined;
        await this.progress();
        return guarded;
      },
      handler: async (ctx: RequestContext, input: Parameters<Route['handler']>[1]) => {
        const result: unknown = await r.handler(ctx, input);
        this.failIfArmed(ctx);
        return result;
      },
    }));
  }

  /** A fixed one-minute window on the injected clock; going over blocks every call for a minute. */
  private admit(): void {
    const limit = this.rateLimitPerMinute();
    if (!limit) return;
    const now = this.clock.now();
    if (now < this.blockedUntil) throw this.tooMany(limit, now);
    if (now - this.windowStart >= WINDOW_MS) {
      this.windowStart = now;
      this.count = 0;
    }
    this.count += 1;
    if (this.count > limit) {
      this.blockedUntil = now + BLOCK_MS;
      throw this.tooMany(limit, now);
    }
  }

  private tooMany(limit: number, now: number) {
    const seconds = Math.max(1, Math.ceil((this.blockedUntil - now) / 1000));
    const message = `Rate limit exceeded: more than ${limit} programmatic requests per minute; programmatic calls are blocked for ${seconds}s`;
    return new HttpError(429, message, { errorCode: 429 }, { 'retry-after': String(seconds) });
  }

  private failIfArmed(ctx: RequestContext): void {
    const armed = this.failures.find(({ rule }) => {
      if (rule.method && rule.method.toUpperCase() !== ctx.method) return false;
      if (typeof rule.path === 'string') return rule.path === ctx.path;
      rule.path.lastIndex = 0;
      return rule.path.test(ctx.path);
    });
    if (!armed) return;
    armed.remaining -= 1;
    if (armed.remaining <= 0) this.failures = this.failures.filter((f) => f !== armed);
    const status = armed.rule.status ?? 502;
    throw atlanError(status, `${status === 502 ? 'Bad Gateway' : 'Server error'} (injected after the request took effect)`, status);
  }
}

/**
 * The fault injector: rules that make the sandbox misbehave like a real cloud API (429 with
 * Retry-After, 5xx, lost responses, slow answers), for reliability tests.
 */

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

const DURATION = Symbol.for('pgstacks.Duration');

/** A length of time, as aws-cdk-lib's `Duration`: `Duration.minutes(20)`. */
export class Duration {
  static seconds(amount: number): Duration {
    return new Duration(amount, 'seconds', amount);
  }

  static minutes(amount: number): Duration {
    return new Duration(amount, 'minutes', amount * 60);
  }

  static hours(amount: number): Duration {
    return new Duration(amount, 'hours', amount * 3600);
  }

  static days(amount: number): Duration {
    return new Duration(amount, 'days', amount * 86_400);
  }

  /** @internal */
  static isDuration(value: unknown): value is Duration {
    return typeof value === 'object' && value !== null && (value as { [DURATION]?: true })[DURATION] === true;
  }

  readonly [DURATION] = true;
  private readonly totalSeconds: number;

  private constructor(
    readonly amount: number,
    readonly unit: string,
    totalSeconds: number,
  ) {
    if (!Number.isFinite(amount) || amount < 0) throw new Error(`Duration.${unit}(${amount}): expected a number of ${unit} of 0 or more`);
    this.totalSeconds = totalSeconds;
  }

  /** The duration in whole seconds (rounded). */
  toSeconds(): number {
    return Math.round(this.totalSeconds);
  }

  toString(): string {
    return `${this.amount} ${this.unit}`;
  }
}

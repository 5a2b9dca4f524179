/**
 * Coalesces concurrent one-item calls into list calls, for APIs whose calls take up to `max`
 * items (CDF's gateway tables: 1-10 per create, retrieve or delete). The engine works on each
 * resource alone, up to its parallelism at once; calls for the same key made in the same turn of
 * the event loop share one request.
 *
 * A shared call that fails is made again for each item alone, so every caller gets the answer
 * (or the error) it would have had calling alone: services whose list calls are all-or-none
 * (a 409 for one duplicate refuses the whole list) then still create the other items.
 */
export class Batcher<I, R> {
  private readonly open = new Map<string, Batch<I, R>>();

  /** @param max the most items one call may carry */
  constructor(private readonly max: number) {}

  /**
   * `item`'s share of a call. `call` makes the call for a list of items and answers one result per
   * item, in order; calls under one `key` must be interchangeable (same endpoint, same credentials).
   */
  run(key: string, item: I, call: (items: readonly I[]) => Promise<readonly R[]>): Promise<R> {
    let batch = this.open.get(key);
    if (!batch) {
      batch = { call, entries: [] };
      this.open.set(key, batch);
      setImmediate(() => this.flush(key, batch as Batch<I, R>));
    }
    return new Promise<R>((resolve, reject) => {
      const entries = (batch as Batch<I, R>).entries;
      entries.push({ item, call, resolve, reject });
      if (entries.length >= this.max) this.flush(key, batch as Batch<I, R>);
    });
  }

  private flush(key: string, batch: Batch<I, R>): void {
    if (this.open.get(key) !== batch) return;
    this.open.delete(key);
    const { call, entries } = batch;
    // Alone, each item goes through its own caller's `call` (its client, its deadline).
    const alone = (entry: Entry<I, R>) => entry.call([entry.item]).then(([result]) => entry.resolve(result as R), entry.reject);
    if (entries.length === 1) {
      void alone(entries[0]);
      return;
    }
    call(entries.map((e) => e.item)).then(
      (results) => entries.forEach((entry, i) => entry.resolve(results[i] as R)),
      () => entries.forEach((entry) => void alone(entry)),
    );
  }
}

interface Entry<I, R> {
  readonly item: I;
  readonly call: (items: readonly I[]) => Promise<readonly R[]>;
  resolve(result: R): void;
  reject(error: unknown): void;
}

interface Batch<I, R> {
  readonly call: (items: readonly I[]) => Promise<readonly R[]>;
  readonly entries: Array<Entry<I, R>>;
}

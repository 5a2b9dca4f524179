/**
 * Runs work over a dependency graph the way Terraform walks its own: a node starts once every
 * node it waits for is done, at most `parallelism` at a time (nodes whose calls share requests
 * count as a share); a node whose prerequisite failed
 * is skipped, and independent branches go on.
 */

/** A node not run because a node it waits for failed. */
export class SkippedError extends Error {
  constructor(readonly blocker: string) {
    super(`not applied because ${blocker} failed`);
  }
}

export interface GraphOptions {
  /** The nodes this one waits for (nodes outside the graph are ignored). */
  readonly waitsFor: (id: string) => readonly string[];
  readonly parallelism: number;
  /**
   * The share of one unit of parallelism a node takes: 1/10 for a node whose calls the handler
   * coalesces ten to a request (clients/batch.ts). @default 1
   */
  readonly share?: (id: string) => number;
  /** Checked before each node starts; a reason stops the walk (running nodes finish). */
  readonly stopReason?: () => string | undefined;
}

/** Returns the failures by node; nodes not started because the walk stopped fail with the reason. */
export async function runGraph(ids: readonly string[], options: GraphOptions, run: (id: string) => Promise<void>): Promise<Map<string, Error>> {
  const inGraph = new Set(ids);
  const failed = new Map<string, Error>();
  const done = new Set<string>();
  const pending = new Set(ids);
  const running = new Map<string, Promise<void>>();
  const share = (id: string) => options.share?.(id) ?? 1;
  let busy = 0;
  const waitsFor = (id: string) => options.waitsFor(id).filter((other) => inGraph.has(other) && other !== id);

  for (;;) {
    const stop = options.stopReason?.();
    let progressed = true;
    while (progressed) {
      progressed = false;
      for (const id of pending) {
        const blocker = waitsFor(id).find((other) => failed.has(other));
        if (blocker || stop) {
          failed.set(id, stop ? new Error(stop) : new SkippedError(blocker as string));
          pending.delete(id);
          progressed = true;
        } else if (busy + share(id) <= options.parallelism + 1e-9 && waitsFor(id).every((other) => done.has(other))) {
          pending.delete(id);
          busy += share(id);
          const task = run(id).then(
            () => void done.add(id),
            (err: unknown) => void failed.set(id, err instanceof Error ? err : new Error(String(err))),
          );
          running.set(
            id,
            task.finally(() => {
              running.delete(id);
              busy -= share(id);
            }),
          );
          progressed = true;
        }
      }
    }
    if (running.size === 0) {
      // What is left waits on itself: a cycle (constructs cannot make one, a hand-edited manifest can).
      for (const id of pending) failed.set(id, new Error(`${id} is part of a dependency cycle: ${waitsFor(id).join(', ')}`));
      return failed;
    }
    await Promise.race(running.values());
  }
}

/** Calls that share requests (clients/batch.ts), and the engine's parallelism counting them as shares (runtime/graph.ts). */
import { Batcher } from '../../src/clients/batch';
import { runGraph } from '../../src/runtime/graph';

/** A list call that records what it was given and fails for lists holding `bad`. */
function listCall(calls: string[][], bad?: string) {
  return async (items: readonly string[]) => {
    calls.push([...items]);
    if (bad && items.includes(bad)) throw new Error(`refused ${items.join(',')}`);
    return items.map((i) => i.toUpperCase());
  };
}

describe('Batcher', () => {
  test('calls made in the same turn under one key share a request, at most `max` to one', async () => {
    const calls: string[][] = [];
    const batcher = new Batcher<string, string>(3);
    const call = listCall(calls);
    const results = await Promise.all([
      ...['a', 'b', 'c', 'd'].map((i) => batcher.run('user-1', i, call)),
      batcher.run('user-2', 'e', call),
    ]);
    expect(results).toEqual(['A', 'B', 'C', 'D', 'E']);
    expect(calls).toEqual([['a', 'b', 'c'], ['d'], ['e']]);
  });

  test('a refused shared call is made again for each item alone, so only the bad item fails', async () => {
    const calls: string[][] = [];
    const batcher = new Batcher<string, string>(10);
    const call = listCall(calls, 'b');
    const settled = await Promise.allSettled(['a', 'b', 'c'].map((i) => batcher.run('k', i, call)));
    expect(settled).toEqual([
      { status: 'fulfilled', value: 'A' },
      { status: 'rejected', reason: new Error('refused b') },
      { status: 'fulfilled', value: 'C' },
    ]);
    expect(calls).toEqual([['a', 'b', 'c'], ['a'], ['b'], ['c']]);
  });

  test("alone, each item goes through its own caller's call (its client and deadline), not the first caller's", async () => {
    const calls: Record<string, string[][]> = { first: [], second: [] };
    const batcher = new Batcher<string, string>(10);
    const settled = await Promise.allSettled([batcher.run('k', 'a', listCall(calls.first, 'b')), batcher.run('k', 'b', listCall(calls.second, 'b'))]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected']);
    expect(calls).toEqual({ first: [['a', 'b'], ['a']], second: [['b']] });
  });

  test('calls in later turns make new requests', async () => {
    const calls: string[][] = [];
    const batcher = new Batcher<string, string>(10);
    await batcher.run('k', 'a', listCall(calls));
    await batcher.run('k', 'b', listCall(calls));
    expect(calls).toEqual([['a'], ['b']]);
  });
});

describe('runGraph shares', () => {
  async function peak(share: number, nodes = 20, parallelism = 2): Promise<number> {
    let running = 0;
    let most = 0;
    const ids = Array.from({ length: nodes }, (_, i) => `n${i}`);
    await runGraph(ids, { waitsFor: () => [], parallelism, share: () => share }, async () => {
      most = Math.max(most, ++running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running--;
    });
    return most;
  }

  test('nodes whose calls share requests run that many more at once', async () => {
    expect(await peak(1)).toBe(2);
    expect(await peak(1 / 10)).toBe(20);
    expect(await peak(1 / 4)).toBe(8);
  });
});

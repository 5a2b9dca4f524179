/**
 * Long-running operations (src/runtime/operations.ts) through the engine: a create that answers
 * an operation is awaited with backoff and progress lines on a fake clock, stops at the deadline,
 * resumes the same operation after a run killed mid-poll, and reports the service's error.
 */
import { EngineHarness } from '../support/engine';
import { FakeClock, operationTesting, OperationServer, projectSpec } from '../support/operation-type';
import { awaitOperation, OperationFailedError, type OperationContext } from '../../src/runtime/operations';

let server: OperationServer;
let h: EngineHarness;
let clock: FakeClock;

beforeAll(async () => {
  server = await new OperationServer().start();
});
afterAll(() => server.stop());
beforeEach(() => {
  server.reset();
  clock = new FakeClock();
  operationTesting.clock = clock;
  operationTesting.beforePoll = undefined;
  h = new EngineHarness();
});
afterEach(() => h.cleanup());

const spec = () => projectSpec('p', { endpoint: server.url, name: 'alpha', size: 2 });
const creates = () => server.count('POST', /^\/projects$/);
const polls = () => server.count('GET', /^\/operations\//);
const waitingLines = () => h.lines.filter((l) => l.includes('still waiting'));

async function eventually(check: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
}

test('a create awaits its operation, backing off between polls, and records the result', async () => {
  await h.reconcile([spec()]);
  expect(creates()).toBe(1);
  expect(polls()).toBe(3);
  expect(clock.sleeps).toEqual([1000, 2000, 4000]); // no jitter on this clock: the full backoff
  expect(await h.record('p')).toMatchObject({ status: 'ready', physicalId: 'p-1', outputs: { id: 'p-1', name: 'alpha', size: 2 } });
  expect((await h.record('p'))?.checkpoint).toBeUndefined();
  expect(h.log).toMatch(/p: created test:op-project p-1 in/);
});

test('a long wait prints a progress line every 30 s, without sleeping for real', async () => {
  server.pollsToFinish = 12;
  const started = Date.now();
  await h.reconcile([spec()]);
  expect(Date.now() - started).toBeLessThan(5000);
  // Waits 1, 2, 4, 8, then 15 s each (the cap): 135 s of fake time.
  expect(clock.time).toBe(135_000);
  expect(waitingLines()).toEqual(
    ['30s', '1m00s', '1m30s', '2m00s'].map((elapsed) => `pgstacks: p: still waiting for project alpha to be created (${elapsed})`),
  );
});

test('a wait longer than the progress interval is split, so the lines stay on time', async () => {
  const lines: string[] = [];
  const ctx: OperationContext = { log: (l) => lines.push(l), checkpoint: async () => undefined, signal: new AbortController().signal };
  let n = 0;
  const op = await awaitOperation(
    {
      what: 'a slow thing',
      start: async () => ({ name: 'operations/slow', done: false }),
      poll: async (name) => ({ name, done: ++n === 2 }),
      initialDelayMs: 50_000,
      maxDelayMs: 100_000,
      clock,
    },
    ctx,
  );
  expect(op).toEqual({ name: 'operations/slow', done: true });
  expect(clock.time).toBe(150_000); // 50 s, then 100 s
  expect(lines).toEqual(['30s', '1m00s', '1m30s', '2m00s', '2m30s'].map((e) => `still waiting for a slow thing (${e})`));
});

test('the deadline stops the wait with a message naming the operation; the next apply resumes it', async () => {
  server.pollsToFinish = Infinity;
  operationTesting.clock = clock = new FakeClock(5); // real time must pass for the real deadline
  h.options = { timeoutMs: 300 };
  await expect(h.reconcile([spec()])).rejects.toThrow(/p \(test:op-project\): create timed out after 300ms/);
  await eventually(() => h.log.includes('gave up waiting'));
  expect(h.log).toMatch(
    /p: gave up waiting for project alpha to be created after \S+: the deadline passed; operation operations\/op-1 may still finish on the service's side/,
  );
  expect(await h.record('p')).toMatchObject({ status: 'creating', checkpoint: { operation: 'operations/op-1' } });

  server.pollsToFinish = 0; // it finished meanwhile
  h.options = {};
  await h.reconcile([spec()]);
  expect(creates()).toBe(1);
  expect(await h.record('p')).toMatchObject({ status: 'ready', physicalId: 'p-1' });
});

test('a run killed mid-poll leaves the operation id; the next run polls that operation instead of creating again', async () => {
  operationTesting.beforePoll = () => {
    if (polls() === 1) throw new Error('handler killed');
  };
  await expect(h.reconcile([spec()])).rejects.toThrow(/handler killed/);
  const interrupted = await h.record('p');
  expect(interrupted).toMatchObject({ status: 'creating', checkpoint: { operation: 'operations/op-1' } });
  expect(interrupted?.physicalId).toBeUndefined();

  operationTesting.beforePoll = undefined;
  await h.reconcile([spec()]);
  expect(creates()).toBe(1);
  expect(server.projects.size).toBe(1);
  expect(await h.record('p')).toMatchObject({ status: 'ready', physicalId: 'p-1' });
  expect(h.log).toContain('p: resuming operations/op-1, started by an interrupted apply: waiting for project alpha to be created');
  expect(h.log).toContain('adopted test:op-project p-1 left by an interrupted apply');
});

test('an interrupted operation the service has forgotten: the project is found by its name', async () => {
  server.pollsToFinish = 1;
  operationTesting.beforePoll = () => {
    throw new Error('handler killed');
  };
  await expect(h.reconcile([spec()])).rejects.toThrow(/handler killed/);
  // The operation ran to its end while nobody watched, and the service dropped it since.
  server.projects.set('p-1', { id: 'p-1', name: 'alpha', size: 2 });
  server.operations.clear();
  operationTesting.beforePoll = undefined;
  await h.reconcile([spec()]);
  expect(creates()).toBe(1);
  expect(await h.record('p')).toMatchObject({ status: 'ready', physicalId: 'p-1' });
  expect(h.log).toContain('operation operations/op-1 (project alpha to be created) is no longer known to the service');
});

test("an operation that ends in an error fails the create with the service's message", async () => {
  server.failNext = 'quota exceeded: at most 3 projects per workspace';
  await expect(h.reconcile([spec()])).rejects.toThrow(
    /p \(test:op-project\): create failed: project alpha to be created failed: quota exceeded: at most 3 projects per workspace \(operation operations\/op-1\)/,
  );
  // Nothing was made, so the next run starts a new operation rather than adopting the failed one.
  await h.reconcile([spec()]);
  expect(creates()).toBe(2);
  expect(await h.record('p')).toMatchObject({ status: 'ready', physicalId: 'p-2' });
  expect(h.log).toContain("the interrupted apply's project alpha to be created failed: quota exceeded");
});

test('OperationFailedError carries the operation and the service message', async () => {
  const ctx: OperationContext = { log: () => undefined, checkpoint: async () => undefined, signal: new AbortController().signal };
  const error = await awaitOperation({ what: 'x', start: async () => ({ name: 'operations/1', done: true, error: { message: 'boom' } }), poll: async () => ({ name: '' }), clock }, ctx).catch((e) => e);
  expect(error).toBeInstanceOf(OperationFailedError);
  expect(error).toMatchObject({ operation: 'operations/1', serviceMessage: 'boom' });
});

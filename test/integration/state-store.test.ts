/** The local-directory state store: atomic, private, and safe under concurrent writers. */
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalDirectoryStore, type ResourceRecord } from '../../src/runtime/state';

let dir: string;
let store: LocalDirectoryStore;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-store-'));
  store = new LocalDirectoryStore(dir);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const record = (id: string, extra: Partial<ResourceRecord> = {}): ResourceRecord => ({
  stack: 'my stack',
  id,
  type: 'test:widget',
  status: 'ready',
  physicalId: `p-${id}`,
  spec: { type: 'test:widget', stack: 'my stack', id, props: {}, removalPolicy: 'destroy', allowReplacement: false, aliases: [] },
  props: {},
  outputs: {},
  dependencies: [],
  createdAt: 'now',
  updatedAt: 'now',
  handlerVersion: 'test',
  ...extra,
});

test('records round-trip, including ids with slashes and spaces, in 0600 files in a 0700 directory', async () => {
  await store.put(record('team/a b'));
  expect(await store.get('my stack', 'team/a b')).toEqual(record('team/a b'));
  const stackDir = path.join(dir, 'my%20stack');
  // A write is a line of the journal; a run that holds the lock folds it into the records file.
  expect(fs.readdirSync(stackDir)).toEqual(['_stack.journal']);
  expect(fs.statSync(path.join(stackDir, '_stack.journal')).mode & 0o777).toBe(0o600);
  expect(fs.statSync(stackDir).mode & 0o777).toBe(0o700);
  await store.withLock('my stack', async () => undefined);
  expect(fs.readdirSync(stackDir)).toEqual(['_stack.records']);
  expect(fs.statSync(path.join(stackDir, '_stack.records')).mode & 0o777).toBe(0o600);
  expect(JSON.parse(fs.readFileSync(path.join(stackDir, '_stack.records'), 'utf8'))).toEqual({ 'team/a b': record('team/a b') });
  expect(await store.get('my stack', 'team/a b')).toEqual(record('team/a b'));
  expect(await store.stacks()).toEqual(['my stack']);
  await store.remove('my stack', 'team/a b');
  await store.remove('my stack', 'team/a b');
  expect(await store.list('my stack')).toEqual([]);
});

test('what a killed run wrote is read back, a last line cut short by a crash is ignored, and the next run folds it in', async () => {
  await store.withLock('my stack', async () => {
    await store.put(record('a'));
    await store.put(record('b'));
  });
  // A run killed after writing: its journal stays, and is read on top of the records file.
  await store.put(record('a', { status: 'creating', physicalId: undefined }));
  await store.remove('my stack', 'b');
  const journal = path.join(dir, 'my%20stack', '_stack.journal');
  fs.appendFileSync(journal, '{"id":"c","put":{"stack":"my st'); // the machine went down mid-write
  expect((await store.list('my stack')).map((r) => [r.id, r.status])).toEqual([['a', 'creating']]);
  await store.withLock('my stack', async () => undefined);
  expect(fs.existsSync(journal)).toBe(false);
  expect((await store.list('my stack')).map((r) => [r.id, r.status])).toEqual([['a', 'creating']]);
});

test('a last line a killed writer left unfinished is cut off by the next run that takes the lock, before it writes', async () => {
  await store.withLock('my stack', async () => {
    await store.put(record('a'));
  });
  // Killed during a write of several pages: Linux stops the write at a page boundary.
  const journal = path.join(dir, 'my%20stack', '_stack.journal');
  fs.appendFileSync(journal, `${JSON.stringify({ id: 'b', put: record('b') })}\n{"id":"c","put":{"stack":"my st`);
  await store.withLock('my stack', async () => {
    await store.put(record('d'));
    expect((await store.list('my stack')).map((r) => r.id)).toEqual(['a', 'b', 'd']);
  });
  expect(fs.existsSync(journal)).toBe(false);
  expect((await store.list('my stack')).map((r) => r.id)).toEqual(['a', 'b', 'd']);
});

test('a damaged journal line that is not the last is an error naming the file and the line', async () => {
  await store.put(record('a'));
  const journal = path.join(dir, 'my%20stack', '_stack.journal');
  fs.appendFileSync(journal, 'garbage\n');
  await store.put(record('b'));
  await expect(store.list('my stack')).rejects.toThrow(`the state journal ${journal} has a damaged line 2; restore the stack's state directory from a backup`);
});

test('records of earlier versions (a file per record) are read, and folded into the records file by the next run', async () => {
  const stackDir = path.join(dir, 'my%20stack');
  fs.mkdirSync(stackDir, { recursive: true });
  fs.writeFileSync(path.join(stackDir, 'team%2Fa%20b.json'), JSON.stringify(record('team/a b')));
  fs.writeFileSync(path.join(stackDir, 'c.json'), JSON.stringify(record('c')));
  fs.writeFileSync(path.join(stackDir, '_stack.meta'), '{"deployment":"d1"}');
  expect((await store.list('my stack')).map((r) => r.id)).toEqual(['c', 'team/a b']);
  await store.withLock('my stack', () => store.remove('my stack', 'c'));
  expect(fs.readdirSync(stackDir).sort()).toEqual(['_stack.meta', '_stack.records']);
  expect(await store.list('my stack')).toEqual([record('team/a b')]);
  expect(await store.getMeta('my stack')).toEqual({ deployment: 'd1' });
});

test('many concurrent writers leave every record whole', async () => {
  // 50 ids, each written 10 times at once: the last write of each id wins whole, never torn.
  await Promise.all(
    Array.from({ length: 500 }, (_, i) => store.put(record(`r${i % 50}`, { outputs: { n: i, pad: 'x'.repeat(5000) } }))),
  );
  const records = await store.list('my stack');
  expect(records).toHaveLength(50);
  for (const r of records) expect(r.outputs.pad).toHaveLength(5000);
  expect(fs.readdirSync(path.join(dir, 'my%20stack')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
});

test('writes made together (written in one append) keep the order they were made in', async () => {
  await store.put(record('a'));
  await Promise.all([store.put(record('b')), store.remove('my stack', 'a'), store.put(record('c')), store.put(record('b', { status: 'deleting' }))]);
  const journal = fs.readFileSync(path.join(dir, 'my%20stack', '_stack.journal'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  expect(journal.map((line) => [line.id, line.remove ? 'remove' : line.put.status])).toEqual([
    ['a', 'ready'],
    ['b', 'ready'],
    ['a', 'remove'],
    ['c', 'ready'],
    ['b', 'deleting'],
  ]);
  expect((await store.list('my stack')).map((r) => [r.id, r.status])).toEqual([
    ['b', 'deleting'],
    ['c', 'ready'],
  ]);
});

test('the stack lock excludes other processes and is released', async () => {
  const order: string[] = [];
  const script = path.join(dir, 'child.js');
  fs.writeFileSync(
    script,
    `const { LocalDirectoryStore } = require(${JSON.stringify(path.resolve(__dirname, '../../src/runtime/state/local.ts'))});
     process.send('child-waiting');
     new LocalDirectoryStore(process.argv[2]).withLock('my stack', async () => { process.send('child-in'); })
       .then(() => process.send('child-out'));`,
  );
  let proc!: ChildProcess;
  await store.withLock('my stack', async () => {
    order.push('parent-in');
    proc = fork(script, [dir], { execArgv: ['--require', require.resolve('tsx/cjs')] });
    const waiting = new Promise((resolve) => proc.on('message', (m) => (order.push(String(m)), m === 'child-waiting' && resolve(m))));
    await waiting;
    await new Promise((r) => setTimeout(r, 300)); // the child is blocked on the lock meanwhile
    order.push('parent-out');
  });
  await new Promise((r) => proc.on('exit', r));
  expect(order).toEqual(['parent-in', 'child-waiting', 'parent-out', 'child-in', 'child-out']);
});

test('a lock left by a dead process is taken over', async () => {
  fs.mkdirSync(path.join(dir, 'my%20stack'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'my%20stack', '.lock'), JSON.stringify({ pid: 2 ** 22 + 12345, host: os.hostname() }));
  await expect(store.withLock('my stack', async () => 'ran')).resolves.toBe('ran');
});

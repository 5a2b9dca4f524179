/**
 * The Splitgraph resource types through the lifecycle engine (no Terraform) against embedded
 * Postgres servers, and `pgstacks splitgraph` in-process: engine, tracked repository, tagged
 * snapshots, checkout of a tag, the refusals that protect pending changes, and pushes to (and
 * pulls from) a second server.
 */
import type { Client } from 'pg';
import { cli } from '../../src/cli';
import { loadResourceTypes } from '../../src/manifests';
import type { ResourceSpec } from '../../src/runtime/spec';
import { checkout, getTrackedTables, initializeEngine, listImages, withClient } from '../../src/splitgraph';
import { EngineHarness } from '../support/engine';
import { startTestPostgres, tableText, type TestPostgres } from '../splitgraph/support';

loadResourceTypes();

const PASSWORD_VARIABLE = 'TEST_SPLITGRAPH_PASSWORD';

let main: TestPostgres;
let other: TestPostgres;
let db: Client;
let h: EngineHarness;

beforeAll(async () => {
  [main, other] = await Promise.all([startTestPostgres(), startTestPostgres()]);
  db = await main.connect();
}, 60_000);
afterAll(async () => {
  await Promise.all([main?.stop(), other?.stop()]);
});
beforeEach(async () => {
  h = new EngineHarness();
  h.env = { [PASSWORD_VARIABLE]: main.config.password };
  // A fresh database per test: the engine, its repositories and their schemas start empty.
  await db.query(`DROP DATABASE IF EXISTS versions WITH (FORCE)`);
  await db.query(`CREATE DATABASE versions`);
});
afterEach(() => h.cleanup());

/** The connection props as the engine sees them once connections are expanded. */
const connection = (server: TestPostgres, database = 'versions') => ({
  host: server.config.host,
  port: server.config.port,
  database,
  user: server.config.user,
  password: { $secret: { fromEnv: PASSWORD_VARIABLE } },
  sslMode: 'disable',
});
const ref = (resource: string, attribute: string) => ({ $ref: { resource, attribute } });

function spec(kind: 'engine' | 'repository' | 'snapshot' | 'push', id: string, props: Record<string, unknown>, options: Partial<ResourceSpec> = {}): ResourceSpec {
  const defaults = { engine: 'retain', repository: 'destroy', snapshot: 'retain', push: 'retain' } as const;
  return { type: `splitgraph:${kind}`, stack: 'test', id, props: props as ResourceSpec['props'], removalPolicy: defaults[kind], allowReplacement: false, aliases: [], ...options };
}
const engine = (options: Partial<ResourceSpec> = {}) => spec('engine', 'engine', { connection: connection(main) }, options);
const repository = (props: Record<string, unknown> = {}, options: Partial<ResourceSpec> = {}) =>
  spec('repository', 'shop', { connection: connection(main), engine: ref('engine', 'id'), repository: 'shop', ...props }, options);
const snapshot = (tag: string, id = 'release', options: Partial<ResourceSpec> = {}) =>
  spec('snapshot', id, { connection: connection(main), repository: ref('shop', 'repository'), tag }, options);

/** A client on the test database. */
const versions = (fn: (client: Client) => Promise<void>) => withClient({ ...main.config, database: 'versions' }, fn);
const url = (server: TestPostgres, database = 'versions') => `postgres://${server.config.user}:${encodeURIComponent(server.config.password)}@${server.config.host}:${server.config.port}/${database}?sslmode=disable`;

async function sg(args: string[], env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await cli(['splitgraph', ...args], { out: (t) => out.push(t), err: (t) => err.push(t), env });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function fruits(): Promise<string[]> {
  let rows: string[] = [];
  await versions(async (c) => {
    rows = await tableText(c, 'shop.fruits');
  });
  return rows;
}

test('engine, repository, snapshot v1; rows changed; checkout v1 with the CLI restores them; a new tag is a new image', async () => {
  await versions((c) => c.query(`CREATE SCHEMA shop; CREATE TABLE shop.fruits (id int PRIMARY KEY, name text, price numeric(6,2)); INSERT INTO shop.fruits VALUES (1, 'apple', 1.10)`).then(() => undefined));
  await h.reconcile([engine(), repository()]);
  expect((await h.record('engine'))?.outputs).toEqual({ id: `${main.config.host}:${main.config.port}/versions`, version: '1', transfers: true });
  expect((await h.record('shop'))?.outputs).toMatchObject({ repository: 'shop', namespace: '', schema: 'shop', tables: 'fruits' });
  expect((await h.record('shop'))?.physicalId).toBe(`${main.config.host}:${main.config.port}/versions/shop`);

  await versions((c) => c.query(`INSERT INTO shop.fruits VALUES (2, 'pear', 2.20), (3, 'plum', 0.50)`).then(() => undefined));
  const pending = await sg(['status', 'shop', '--url', url(main)]);
  expect(pending.code).toBe(0);
  expect(pending.out).toContain(`Repository shop on postgres://${main.config.user}:****@`);
  expect(pending.out).toMatch(/fruits\s+snapshot\s+2\s+0\s+0/);
  expect(pending.out).not.toContain(main.config.password);

  await h.reconcile([engine(), repository(), snapshot('v1')]);
  const v1 = (await h.record('release'))!;
  expect(v1.outputs).toEqual({ imageHash: expect.stringMatching(/^[0-9a-f]{64}$/), tag: 'v1', repository: 'shop', tables: 'fruits' });
  expect(v1.physicalId).toBe(v1.outputs.imageHash);
  const atV1 = await fruits();
  expect(atV1).toEqual(['(1,apple,1.10)', '(2,pear,2.20)', '(3,plum,0.50)']);

  // Deploying again changes nothing: no new image.
  const again = await h.reconcile([engine(), repository(), snapshot('v1')]);
  expect(again.resources.map((r) => r.action)).toEqual(['no-op', 'no-op', 'no-op']);
  await versions(async (c) => expect((await listImages(c, { repository: 'shop' })).map((i) => i.tags)).toEqual([[], ['HEAD', 'v1']]));

  await versions((c) => c.query(`UPDATE shop.fruits SET price = 9.99 WHERE id = 1; DELETE FROM shop.fruits WHERE id = 2; INSERT INTO shop.fruits VALUES (4, 'kiwi', 3.00)`).then(() => undefined));
  const log = await sg(['log', 'shop', '--url', url(main), '--json']);
  expect(JSON.parse(log.out).map((i: { tags: string[] }) => i.tags)).toEqual([['HEAD', 'v1'], []]);
  const changes = await sg(['diff', 'shop', '--url', url(main), '--rows']);
  expect(changes.out).toContain('fruits: modified (+1 -1 ~1)');
  expect(changes.out).toContain('~ {"id":1,"name":"apple","price":1.1} -> {"id":1,"name":"apple","price":9.99}');
  expect(changes.out).toContain('- {"id":2,"name":"pear","price":2.2}');
  expect(changes.out).toContain('+ {"id":4,"name":"kiwi","price":3}');

  // Pending changes protect the schema; --force restores the tag.
  const refused = await sg(['checkout', 'shop', 'v1', '--url', url(main)]);
  expect(refused.code).toBe(1);
  expect(refused.err).toMatch(/repository shop has 3 pending changed rows that are not committed\nChecking out v1 would lose them: commit them first \(deploy a SplitgraphSnapshot\), or add --force to discard them\./);
  expect(await fruits()).not.toEqual(atV1);
  const restored = await sg(['checkout', 'shop', 'v1', '--force'], { PGSTACKS_SPLITGRAPH_URL: url(main) });
  expect(restored).toMatchObject({ code: 0, out: `Checked out v1 (image ${String(v1.outputs.imageHash).slice(0, 12)}) into schema "shop".` });
  expect(await fruits()).toEqual(atV1);

  // A new tag (the next release) commits again; v1 stays where it was.
  await versions((c) => c.query(`INSERT INTO shop.fruits VALUES (5, 'fig', 4.00)`).then(() => undefined));
  await h.reconcile([engine(), repository(), snapshot('v2')]);
  const v2 = (await h.record('release'))!;
  expect(v2.outputs.imageHash).not.toBe(v1.outputs.imageHash);
  expect(v2.physicalId).toBe(v1.physicalId);
  expect(h.log).toContain(`the earlier tag 'v1' stays on image ${String(v1.outputs.imageHash).slice(0, 12)}`);
  await versions(async (c) => {
    const images = await listImages(c, { repository: 'shop' });
    expect(images.find((i) => i.tags.includes('v1'))?.imageHash).toBe(v1.outputs.imageHash);
    expect(images.find((i) => i.tags.includes('v2'))?.imageHash).toBe(v2.outputs.imageHash);
  });
  expect(h.log).not.toContain(main.config.password);
});

test('removing a repository with pending changes is refused, naming the rows; with discardPendingChanges it untracks and keeps the history', async () => {
  await versions((c) => c.query(`CREATE SCHEMA shop; CREATE TABLE shop.fruits (id int PRIMARY KEY, name text); CREATE TABLE shop.veg (id int PRIMARY KEY, name text)`).then(() => undefined));
  await h.reconcile([engine(), repository(), snapshot('v1')]);
  await versions((c) => c.query(`INSERT INTO shop.fruits VALUES (1, 'apple'), (2, 'pear'); INSERT INTO shop.veg VALUES (1, 'leek')`).then(() => undefined));

  await expect(h.reconcile([engine(), snapshot('v1')])).rejects.toThrow(
    /shop \(splitgraph:repository\): delete failed: removing the repository would lose 3 pending changed rows \(fruits: 2 rows; veg: 1 row\) in repository shop that no snapshot has committed\. .*set discardPendingChanges: true on the SplitgraphRepository and deploy, then remove it\./,
  );
  await versions(async (c) => expect((await getTrackedTables(c, 'shop')).map((t) => t.table)).toEqual(['fruits', 'veg']));

  // Taking a table out of `tables` is refused the same way.
  await expect(h.reconcile([engine(), repository({ tables: ['fruits'] }), snapshot('v1')])).rejects.toThrow(/taking "veg" out of tables would lose 1 pending changed row \(veg: 1 row\)/);

  // Doing as the message says: the repository declared again as it was, and a snapshot commits
  // the changes (the refused removal must not leave it unusable for what references it).
  await h.reconcile([engine(), repository(), snapshot('v2')]);
  expect((await h.record('release'))?.outputs.tag).toBe('v2');

  // Once committed, a table leaves `tables` without a fuss.
  await h.reconcile([engine(), repository({ tables: ['fruits'] }), snapshot('v2')]);
  await versions(async (c) => expect((await getTrackedTables(c, 'shop')).map((t) => t.table)).toEqual(['fruits']));
  expect((await h.record('shop'))?.outputs.tables).toBe('fruits');

  await versions((c) => c.query(`DELETE FROM shop.fruits WHERE id = 2`).then(() => undefined));
  await h.reconcile([engine(), repository({ tables: ['fruits'], discardPendingChanges: true }), snapshot('v2')]);
  await h.reconcile([engine(), snapshot('v2')]);
  expect(h.log).toMatch(/discarding 1 pending changed row \(fruits: 1 row\)/);
  await versions(async (c) => {
    expect(await getTrackedTables(c, 'shop')).toEqual([]);
    expect((await listImages(c, { repository: 'shop' })).flatMap((i) => i.tags).sort()).toEqual(['HEAD', 'v1', 'v2']);
    expect(await tableText(c, 'shop.fruits')).toEqual(['(1,apple)']);
  });
});

test('drift: a table created later is tracked at the next deploy, and a deleted tag is put back', async () => {
  await versions((c) => c.query(`CREATE SCHEMA shop; CREATE TABLE shop.fruits (id int PRIMARY KEY)`).then(() => undefined));
  await h.reconcile([engine(), repository(), snapshot('v1')]);
  await versions((c) => c.query(`CREATE TABLE shop.nuts (id int PRIMARY KEY); DELETE FROM splitgraph_meta.tags WHERE tag = 'v1'`).then(() => undefined));
  const plan = await h.plan([engine(), repository(), snapshot('v1')]);
  expect(plan.resources.map((r) => [r.id, r.action, r.changes.map((c) => c.path)])).toEqual([
    ['engine', 'no-op', []],
    // The repository is updated in place; its name is a stable attribute, so the reference stays known.
    ['shop', 'update', ['tables']],
    ['release', 'update', ['tag']],
  ]);
  await h.reconcile([engine(), repository(), snapshot('v1')]);
  expect((await h.record('shop'))?.outputs.tables).toBe('fruits,nuts');
  expect(h.log).toContain("tag 'v1' was deleted outside pgstacks: put it back on image");
  expect((await h.plan([engine(), repository(), snapshot('v1')])).resources.every((r) => r.action === 'no-op')).toBe(true);
});

test('a tag taken by an image this snapshot did not make is refused; DESTROY deletes only the tag; a destroyed engine drops its schemas', async () => {
  await versions((c) => c.query(`CREATE SCHEMA shop; CREATE TABLE shop.fruits (id int PRIMARY KEY)`).then(() => undefined));
  await h.reconcile([engine({ removalPolicy: 'destroy' }), repository(), snapshot('v1', 'first', { removalPolicy: 'destroy' })]);
  const first = (await h.record('first'))!.outputs.imageHash;
  await expect(h.reconcile([engine({ removalPolicy: 'destroy' }), repository(), snapshot('v1', 'first', { removalPolicy: 'destroy' }), snapshot('v1', 'second')])).rejects.toThrow(
    /tag 'v1' of repository shop already names image [0-9a-f]{12} .*which this snapshot did not make/,
  );
  await h.reconcile([engine({ removalPolicy: 'destroy' }), repository()]);
  await versions(async (c) => {
    const images = await listImages(c, { repository: 'shop' });
    expect(images.flatMap((i) => i.tags)).toEqual(['HEAD']);
    expect(images.map((i) => i.imageHash)).toContain(first);
  });
  await h.destroy();
  await versions(async (c) => {
    const { rows } = await c.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'splitgraph%' OR nspname = 'shop' ORDER BY 1`);
    expect(rows.map((r) => r.nspname)).toEqual(['shop']);
    const triggers = await c.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'shop.fruits'::regclass AND NOT tgisinternal`);
    expect(triggers.rows[0].n).toBe(0);
  });
});

test('a rotated password updates in place and changes nothing remotely; a connection pointed at another database is refused', async () => {
  await db.query(`DROP ROLE IF EXISTS deployer`);
  await db.query(`CREATE ROLE deployer LOGIN SUPERUSER PASSWORD 'first-password'`);
  const as = (database = 'versions') => ({ ...connection(main, database), user: 'deployer', password: { $secret: { fromEnv: 'DEPLOYER_PASSWORD' } } });
  const declared = (database?: string) => [
    spec('engine', 'engine', { connection: as(database) }),
    spec('repository', 'shop', { connection: as(database), engine: ref('engine', 'id'), repository: 'shop' }),
    spec('snapshot', 'release', { connection: as(database), repository: ref('shop', 'repository'), tag: 'v1' }),
  ];
  await versions((c) => c.query(`CREATE SCHEMA shop; CREATE TABLE shop.fruits (id int PRIMARY KEY)`).then(() => undefined));
  h.env = { ...h.env, DEPLOYER_PASSWORD: 'first-password' };
  await h.reconcile(declared());
  await db.query(`ALTER ROLE deployer PASSWORD 'second-password'`);
  h.env = { ...h.env, DEPLOYER_PASSWORD: 'second-password' };
  const rotated = await h.reconcile(declared());
  expect(rotated.resources.map((r) => [r.id, r.action, r.changes.map((c) => c.path)])).toEqual([
    ['engine', 'update', ['connection.password']],
    ['shop', 'update', ['connection.password']],
    ['release', 'update', ['connection.password']],
  ]);
  await versions(async (c) => expect((await listImages(c, { repository: 'shop' })).map((i) => i.tags)).toEqual([[], ['HEAD', 'v1']]));
  expect(h.log).not.toMatch(/first-password|second-password/);

  await expect(h.reconcile(declared('postgres'))).rejects.toThrow(
    /the engine is in 127\.0\.0\.1:\d+\/versions, and connection now points at 127\.0\.0\.1:\d+\/postgres\. It does not move between databases: declare a new construct \(another id\) for 127\.0\.0\.1:\d+\/postgres and remove this one/,
  );
});

test('a push copies the repository to a second server after each snapshot; the CLI pushes, pulls and checks out there', async () => {
  await withClient(other.config, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS backup WITH (FORCE)`);
    await c.query(`CREATE DATABASE backup`);
  });
  h.env = { ...h.env, TEST_OTHER_PASSWORD: other.config.password };
  const remoteConnection = { ...connection(other, 'backup'), password: { $secret: { fromEnv: 'TEST_OTHER_PASSWORD' } } };
  const backup = spec('engine', 'backup', { connection: remoteConnection, changeTracking: false });
  const pushed = spec('push', 'to-backup', { connection: connection(main), remote: remoteConnection, remoteEngine: ref('backup', 'id'), repository: ref('shop', 'repository'), image: ref('release', 'imageHash') });
  await versions((c) => c.query(`CREATE SCHEMA shop; CREATE TABLE shop.fruits (id int PRIMARY KEY, name text); INSERT INTO shop.fruits VALUES (1, 'apple')`).then(() => undefined));

  await h.reconcile([engine(), repository(), snapshot('v1'), backup, pushed]);
  const v1 = String((await h.record('release'))!.outputs.imageHash);
  expect((await h.record('to-backup'))?.outputs).toEqual({ remoteRepository: 'shop', remoteEngine: `${other.config.host}:${other.config.port}/backup`, imageHash: v1 });
  const remoteImages = () => withClient({ ...other.config, database: 'backup' }, (c) => listImages(c, { repository: 'shop' }));
  expect((await remoteImages()).map((i) => [i.imageHash, i.tags])).toEqual([[expect.any(String), []], [v1, ['v1']]]);

  // The next release: a new image, so the push runs again.
  await versions((c) => c.query(`INSERT INTO shop.fruits VALUES (2, 'pear')`).then(() => undefined));
  const plan = await h.reconcile([engine(), repository(), snapshot('v2'), backup, pushed]);
  expect(plan.resources.find((r) => r.id === 'to-backup')?.action).toBe('update');
  const v2 = String((await h.record('release'))!.outputs.imageHash);
  expect((await remoteImages()).map((i) => i.tags)).toEqual([[], ['v1'], ['v2']]);
  expect((await h.record('to-backup'))?.outputs.imageHash).toBe(v2);
  expect((await h.plan([engine(), repository(), snapshot('v2'), backup, pushed])).resources.every((r) => r.action === 'no-op')).toBe(true);

  // Removed with DESTROY: the repository leaves the remote engine.
  const destroyed = { ...pushed, removalPolicy: 'destroy' as const };
  await h.reconcile([engine(), repository(), snapshot('v2'), backup, destroyed]);
  await h.reconcile([engine(), repository(), snapshot('v2'), backup]);
  expect(await remoteImages()).toEqual([]);
  expect(h.log).toMatch(/deleted repository shop from 127\.0\.0\.1:\d+\/backup \(its images and tags; \d+ objects nothing else used\)/);

  // The CLI: push to another database there, pull it into a fresh one here, check v1 out.
  await withClient(other.config, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS mirror WITH (FORCE)`);
    await c.query(`CREATE DATABASE mirror`);
  });
  await withClient({ ...other.config, database: 'mirror' }, (c) => initializeEngine(c));
  const push = await sg(['push', 'shop', '--url', url(main), '--remote-url', url(other, 'mirror'), '--remote-repository', 'acme/shop']);
  expect(push).toMatchObject({ code: 0, out: expect.stringMatching(/^Pushed shop to acme\/shop on postgres:\/\/splitgraph:\*\*\*\*@127\.0\.0\.1:\d+\/mirror\?sslmode=disable: 3 new images, \d+ objects, tags: v1, v2\.$/) });
  await db.query(`DROP DATABASE IF EXISTS restored WITH (FORCE)`);
  await db.query(`CREATE DATABASE restored`);
  await withClient({ ...main.config, database: 'restored' }, (c) => initializeEngine(c));
  const pull = await sg(['pull', 'shop', '--url', url(main, 'restored'), '--remote-repository', 'acme/shop', '--json'], { PGSTACKS_SPLITGRAPH_REMOTE_URL: url(other, 'mirror') });
  expect(pull.code).toBe(0);
  expect(JSON.parse(pull.out)).toMatchObject({ images: expect.any(Array), tags: ['v1', 'v2'] });
  expect((await sg(['checkout', 'shop', 'v1', '--url', url(main, 'restored')])).code).toBe(0);
  await withClient({ ...main.config, database: 'restored' }, async (c) => expect(await tableText(c, 'shop.fruits')).toEqual(['(1,apple)']));
  // The pushed copy checks out on its own server too.
  await withClient({ ...other.config, database: 'mirror' }, async (c) => {
    await checkout(c, { namespace: 'acme', repository: 'shop' }, 'v2');
    expect(await tableText(c, '"acme/shop".fruits')).toEqual(['(1,apple)', '(2,pear)']);
  });
});

test('the CLI explains its usage and never prints the password', async () => {
  const missing = await sg(['status', 'shop']);
  expect(missing.code).toBe(2);
  expect(missing.err).toContain("give the engine's database with --url postgres://user:password@host:port/database, or set PGSTACKS_SPLITGRAPH_URL");
  const wrong = await sg(['status', 'shop', '--url', `postgres://${main.config.user}:not-the-password@${main.config.host}:${main.config.port}/versions?sslmode=disable`]);
  expect(wrong.code).toBe(1);
  expect(wrong.err).toMatch(/cannot connect to postgres:\/\/splitgraph:\*\*\*\*@127\.0\.0\.1:\d+\/versions\?sslmode=disable: password authentication failed/);
  expect(wrong.err).not.toContain('not-the-password');
  const noEngine = await sg(['log', 'shop', '--url', url(main)]);
  expect(noEngine).toMatchObject({ code: 1, err: expect.stringContaining('has no Splitgraph engine') });
  expect((await sg(['checkout', 'shop', '--url', url(main)])).err).toContain('checkout takes <repository> <tag or image hash>');
  expect((await sg(['--help'])).out).toContain('Usage: pgstacks splitgraph <command> <repository> [options]');
});

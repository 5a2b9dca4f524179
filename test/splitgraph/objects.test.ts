import { PassThrough, Readable } from 'node:stream';
import type { Client } from 'pg';
import {
  SplitgraphError, applyFragments, commit, dumpObject, getImageTables, getObjectMeta, initRepository, loadObject, storeFragment,
} from '../../src/splitgraph';
import { startTestEngine, tableText, type TestEngine } from './support';

let engine: TestEngine;
let db: Client;

beforeAll(async () => {
  engine = await startTestEngine();
  db = engine.client;
  await db.query(`CREATE SCHEMA f`);
});
afterAll(async () => engine?.server.stop());

async function dump(id: string): Promise<string> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(chunk));
  await dumpObject(db, id, out);
  out.end();
  return Buffer.concat(chunks).toString('utf8');
}

describe('fragments', () => {
  test('store upserts and deletes by key, then apply several fragments in one batch', async () => {
    await db.query(`CREATE TABLE f.src (id int, region text, v jsonb, tags int[], PRIMARY KEY (region, id))`);
    await db.query(`INSERT INTO f.src VALUES (1, 'eu', '{"a": 1}', '{1,2}'), (2, 'eu', NULL, NULL), (1, 'us', '[1]', '{}')`);
    // Keys come in key order (region, id), as text or numbers.
    const first = await storeFragment(db, { source: { schema: 'f', table: 'src' }, target: { schema: 'f', table: 'frag1' }, upserted: [['eu', 1], ['eu', 2], ['us', '1']], deleted: [] });
    expect(first).toEqual({ upserted: 3, deleted: 0 });
    await db.query(`UPDATE f.src SET v = '{"a": 2}' WHERE id = 1 AND region = 'eu'`);
    await db.query(`DELETE FROM f.src WHERE id = 2`);
    const second = await storeFragment(db, { source: { schema: 'f', table: 'src' }, target: { schema: 'f', table: 'frag2' }, upserted: [['eu', 1]], deleted: [['eu', 2]] });
    expect(second).toEqual({ upserted: 1, deleted: 1 });
    expect(await tableText(db, 'f.frag2')).toEqual(['(1,eu,"{""a"": 2}","{1,2}",t)', '(2,eu,,,f)']);

    await db.query(`CREATE TABLE f.dst (LIKE f.src INCLUDING ALL)`);
    await applyFragments(db, [{ schema: 'f', table: 'frag1' }, { schema: 'f', table: 'frag2' }], { schema: 'f', table: 'dst' });
    expect(await tableText(db, 'f.dst')).toEqual(await tableText(db, 'f.src'));

    await db.query(`TRUNCATE f.dst`);
    await applyFragments(db, [{ schema: 'f', table: 'frag1' }], { schema: 'f', table: 'dst' }, { filter: { sql: 'region = $1', params: ['us'] } });
    expect(await tableText(db, 'f.dst')).toEqual(['(1,us,[1],{})']);
  });

  test('take any number of keys in one statement (no 65,535 bind-parameter limit)', async () => {
    await db.query(`CREATE TABLE f.many (a int, b int, PRIMARY KEY (a, b))`);
    await db.query(`INSERT INTO f.many SELECT g, g FROM generate_series(1, 40000) g`);
    const keys = Array.from({ length: 40000 }, (_, i) => [i + 1, i + 1]);
    const stored = await storeFragment(db, { source: { schema: 'f', table: 'many' }, target: { schema: 'f', table: 'many_frag' }, upserted: keys, deleted: keys.map(([a]) => [a, -a]) });
    expect(stored).toEqual({ upserted: 40000, deleted: 40000 });
  });

  test('match rows whole in tables without a primary key, deleting one copy per deleted row', async () => {
    await db.query(`CREATE TABLE f.bag (x int, y text)`);
    await db.query(`INSERT INTO f.bag VALUES (1, 'a'), (1, 'a'), (1, 'a'), (NULL, NULL)`);
    await storeFragment(db, { source: { schema: 'f', table: 'bag' }, target: { schema: 'f', table: 'bag_frag' }, upserted: [[2, 'b']], deleted: [[1, 'a'], [1, 'a'], [null, null]] });
    await applyFragments(db, [{ schema: 'f', table: 'bag_frag' }], { schema: 'f', table: 'bag' });
    expect(await tableText(db, 'f.bag')).toEqual(['(1,a)', '(2,b)']);
  });

  test('fail on keys of the wrong length', async () => {
    const error = await storeFragment(db, { source: { schema: 'f', table: 'src' }, target: { schema: 'f', table: 'bad' }, upserted: [[1]], deleted: [] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SplitgraphError);
    expect((error as Error).message).toContain('has 2 values (region, id), got [1]');
  });
});

describe('dumping and loading objects', () => {
  let objectIds: string[];
  let expected: string[];

  beforeAll(async () => {
    const repo = { repository: 'dumped' };
    await initRepository(db, repo);
    await db.query(`CREATE TABLE dumped.t (id int PRIMARY KEY, s text, j json, a text[], b bytea, ts timestamptz, n numeric)`);
    await db.query(`INSERT INTO dumped.t VALUES (1, E'line\\nbreak "quoted" \\\\', '{"k":  [1, 2]}', '{"x y",NULL}', '\\x00ff', '2024-01-01 00:00:00.123456+00', 1.50),
                    (2, NULL, NULL, NULL, NULL, NULL, 'NaN')`);
    await commit(db, repo);
    await db.query(`UPDATE dumped.t SET s = 'changed' WHERE id = 1; DELETE FROM dumped.t WHERE id = 2`);
    const { imageHash } = await commit(db, repo);
    objectIds = (await getImageTables(db, repo, imageHash)).get('t')!.objectIds;
    expected = await tableText(db, 'dumped.t');
    expect(objectIds).toHaveLength(2);
  });

  test('round-trip base and patch objects through a stream', async () => {
    const dumps: string[] = [];
    for (const id of objectIds) dumps.push(await dump(id));
    const metas = await getObjectMeta(db, objectIds);
    for (const id of objectIds) {
      await db.query(`DELETE FROM splitgraph_meta.tables WHERE $1 = ANY(object_ids)`, [id]);
      await db.query(`DELETE FROM splitgraph_meta.objects WHERE object_id = $1`, [id]);
      await db.query(`DROP TABLE splitgraph_meta.${id}`);
    }
    for (const text of dumps) await loadObject(db, Readable.from([text.slice(0, 100), text.slice(100)]));
    const reloaded = await getObjectMeta(db, objectIds);
    expect(reloaded.map(({ size: _s, ...m }) => m)).toEqual(metas.map(({ size: _s, ...m }) => m));

    await db.query(`CREATE TABLE f.rebuilt (id int PRIMARY KEY, s text, j json, a text[], b bytea, ts timestamptz, n numeric)`);
    await applyFragments(db, objectIds, { schema: 'f', table: 'rebuilt' });
    expect(await tableText(db, 'f.rebuilt')).toEqual(expected);
    // Loading an object that is here already changes nothing.
    expect(await loadObject(db, Readable.from([dumps[0]]))).toBe(objectIds[0]);
  });

  test('fail to load a stream whose rows do not match its id', async () => {
    const text = await dump(objectIds[0]);
    await db.query(`DELETE FROM splitgraph_meta.objects WHERE object_id = $1`, [objectIds[0]]);
    await db.query(`ALTER TABLE splitgraph_meta.${objectIds[0]} RENAME TO moved_away`);
    const tampered = text.replace('"line\\nbreak', '"LINE\\nbreak');
    expect(tampered).not.toBe(text);
    const error = await loadObject(db, Readable.from([tampered])).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'corrupt-object' });
    expect(await loadObject(db, Readable.from([text]))).toBe(objectIds[0]);
  });
});

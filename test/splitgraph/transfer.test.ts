import type { Client } from 'pg';
import {
  checkout, commit, downloadObjects, getImageTables, initRepository, listImages, pull, push, tagImage, uploadObjects,
  type RemoteEngine,
} from '../../src/splitgraph';
import { startTestEngine, tableText, type TestEngine } from './support';

// Two servers: "here" and "there". postgres_fdw connects server to server, over 127.0.0.1.
let here: TestEngine;
let there: TestEngine;
let local: Client;
let remoteOfHere: RemoteEngine;
let remoteOfThere: RemoteEngine;

beforeAll(async () => {
  [here, there] = await Promise.all([startTestEngine(), startTestEngine()]);
  local = here.client;
  const address = (engine: TestEngine) => {
    const { host, port, database, user, password } = engine.server.config;
    return { host, port, database, user, password };
  };
  remoteOfHere = { client: there.client, fdw: address(there) };
  remoteOfThere = { client: here.client, fdw: address(here) };
});
afterAll(async () => Promise.all([here?.server.stop(), there?.server.stop()]));

const objectCount = async (client: Client) => (await client.query(`SELECT count(*)::int AS n FROM splitgraph_meta.objects`)).rows[0].n as number;

describe('objects over postgres_fdw', () => {
  let ids: string[];
  beforeAll(async () => {
    const repo = { repository: 'shipped' };
    await initRepository(local, repo);
    await local.query(`CREATE TABLE shipped.t (id int PRIMARY KEY, v jsonb, a int[], note text)`);
    await local.query(`INSERT INTO shipped.t SELECT g, jsonb_build_object('g', g), ARRAY[g, NULL], CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' || g END FROM generate_series(1, 30) g`);
    await local.query(`CREATE TABLE shipped.bag (x text)`);
    await local.query(`INSERT INTO shipped.bag VALUES ('a'), ('a'), (NULL)`);
    const { imageHash } = await commit(local, repo, { chunkRows: 20 });
    const tables = await getImageTables(local, repo, imageHash);
    ids = [...tables.get('t')!.objectIds, ...tables.get('bag')!.objectIds];
    expect(ids).toHaveLength(3);
  });

  test('upload objects, skipping those the remote has', async () => {
    expect(await uploadObjects(local, remoteOfHere, ids.slice(0, 1))).toEqual(ids.slice(0, 1));
    expect((await uploadObjects(local, remoteOfHere, ids)).sort()).toEqual(ids.slice(1).sort());
    expect(await uploadObjects(local, remoteOfHere, ids)).toEqual([]);
    for (const id of ids) {
      expect(await tableText(there.client, `splitgraph_meta.${id}`)).toEqual(await tableText(local, `splitgraph_meta.${id}`));
    }
    // No foreign server, mapping or staging table is left on either side.
    expect((await local.query(`SELECT count(*)::int AS n FROM pg_foreign_server`)).rows[0].n).toBe(0);
    expect((await there.client.query(`SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'splitgraph_meta'::regnamespace AND relkind = 'r' AND relname ~ '^o[0-9a-f]{62}$'`)).rows[0].n).toBe(3);
  });

  test('download objects, with their keys', async () => {
    await local.query(`DELETE FROM splitgraph_meta.tables`);
    for (const id of ids) {
      await local.query(`DELETE FROM splitgraph_meta.objects WHERE object_id = $1`, [id]);
      await local.query(`DROP TABLE splitgraph_meta.${id}`);
    }
    expect((await downloadObjects(local, remoteOfHere, ids)).sort()).toEqual([...ids].sort());
    expect(await downloadObjects(local, remoteOfHere, ids)).toEqual([]);
    for (const id of ids) expect(await tableText(local, `splitgraph_meta.${id}`)).toEqual(await tableText(there.client, `splitgraph_meta.${id}`));
    const keys = await local.query(`SELECT count(*)::int AS n FROM pg_index WHERE indisprimary AND indrelid::regclass::text = ANY($1)`, [ids.map((id) => `splitgraph_meta.${id}`)]);
    expect(keys.rows[0].n).toBe(2);
  });

  test('fail to download objects the remote does not have', async () => {
    const missing = `o${'ab'.repeat(31)}`;
    await expect(downloadObjects(local, remoteOfHere, [missing])).rejects.toMatchObject({ code: 'not-found' });
  });
});

describe('push and pull', () => {
  test('push a repository, pull it back elsewhere, and check out the same contents', async () => {
    const repo = { namespace: 'team', repository: 'sales' };
    await initRepository(local, repo);
    await local.query(`CREATE TABLE "team/sales".orders (id int PRIMARY KEY, customer text, total numeric(10,2), items jsonb)`);
    await local.query(`INSERT INTO "team/sales".orders SELECT g, 'c' || (g % 7), g * 1.25, jsonb_build_array(g, 'x') FROM generate_series(1, 50) g`);
    const first = await commit(local, repo, { comment: 'first' });
    const v1 = await tableText(local, '"team/sales".orders');
    await local.query(`UPDATE "team/sales".orders SET total = 0 WHERE id <= 5; DELETE FROM "team/sales".orders WHERE id > 45`);
    const second = await commit(local, repo, { comment: 'second' });
    await tagImage(local, repo, first.imageHash, 'v1');
    const v2 = await tableText(local, '"team/sales".orders');

    const pushed = await push(local, remoteOfHere, repo);
    expect(pushed.images).toHaveLength(3);
    expect(pushed.objects).toHaveLength(2);
    expect(pushed.tags).toEqual(['v1']);
    expect(await push(local, remoteOfHere, repo)).toEqual({ images: [], objects: [], tags: ['v1'] });

    // On the remote, check it out: the same rows.
    await checkout(there.client, repo, second.imageHash);
    expect(await tableText(there.client, '"team/sales".orders')).toEqual(v2);

    // A change made there comes back by pulling, into another repository name here.
    await there.client.query(`INSERT INTO "team/sales".orders VALUES (1000, 'remote', 1, '[]')`);
    const third = await commit(there.client, repo, { comment: 'made there' });
    const copy = { namespace: 'team', repository: 'sales_copy' };
    const pulled = await pull(local, remoteOfHere, copy, { remoteRepository: repo });
    expect(pulled.images).toHaveLength(4);
    // Only the patch made there is new here.
    expect(pulled.objects).toHaveLength(1);
    expect((await listImages(local, copy)).map((i) => [i.comment, i.tags])).toEqual([[null, []], ['first', ['v1']], ['second', []], ['made there', []]]);
    const v3 = await tableText(there.client, '"team/sales".orders');
    await checkout(local, copy, third.imageHash);
    expect(await tableText(local, '"team/sales_copy".orders')).toEqual(v3);
    await checkout(local, copy, 'v1');
    expect(await tableText(local, '"team/sales_copy".orders')).toEqual(v1);

    // Pulling the original repository brings only what is new: one image, and no object (it came with the copy).
    const update = await pull(local, remoteOfHere, repo);
    expect(update.images).toEqual([third.imageHash]);
    expect(update.objects).toEqual([]);
    expect(await objectCount(local)).toBe(await objectCount(there.client));
  });

  test('pull objects the receiver lacks, from the other direction', async () => {
    const repo = { repository: 'born_there' };
    await initRepository(there.client, repo);
    await there.client.query(`CREATE TABLE born_there.t (x int, y text); INSERT INTO born_there.t VALUES (1, 'a'), (1, 'a'), (NULL, NULL)`);
    const { imageHash } = await commit(there.client, repo);
    const pulled = await pull(local, remoteOfHere, repo);
    expect(pulled.objects).toHaveLength(1);
    await checkout(local, repo, imageHash);
    expect(await tableText(local, 'born_there.t')).toEqual(await tableText(there.client, 'born_there.t'));
    // And push from there to here (the engines' roles reversed) finds nothing to send.
    expect((await push(there.client, remoteOfThere, repo)).images).toEqual([]);
  });
});

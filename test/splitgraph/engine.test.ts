import { PassThrough } from 'node:stream';
import type { Client } from 'pg';
import {
  SplitgraphError, commit, dumpTableSql, getPrimaryKeys, getTableSchema, getTableSize, initRepository, initializeEngine, isEngineInitialized,
  lockTable, push, runSql, runSqlBatch, withClient,
} from '../../src/splitgraph';
import { startTestPostgres, tableText, type TestPostgres } from './support';

let server: TestPostgres;
let db: Client;

beforeAll(async () => {
  server = await startTestPostgres();
  db = await server.connect();
});
afterAll(async () => server?.stop());

describe('initializeEngine', () => {
  test('fails engine operations on a database without the engine, saying how to fix it', async () => {
    expect(await isEngineInitialized(db)).toBe(false);
    const error = await commit(db, { repository: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SplitgraphError);
    expect((error as Error).message).toMatch(/has no Splitgraph engine[\s\S]*initializeEngine/);
  });

  test('installs the schemas, tables, functions, trigger function and extensions, and can run again', async () => {
    await initializeEngine(db);
    await db.query(`INSERT INTO splitgraph_meta.info VALUES ('mine', 'kept')`);
    await initializeEngine(db);
    expect(await isEngineInitialized(db)).toBe(true);
    const tables = await runSql(db, `SELECT string_agg(relname, ',' ORDER BY relname) AS names FROM pg_class WHERE relnamespace = 'splitgraph_meta'::regnamespace AND relkind = 'r'`);
    expect(tables[0].names).toBe('images,info,objects,tables,tags');
    const extensions = await runSql(db, `SELECT string_agg(extname, ',' ORDER BY extname) AS names FROM pg_extension`);
    expect(extensions[0].names).toBe('pgcrypto,plpgsql,postgres_fdw');
    const functions = await runSql(db, `SELECT count(*)::int AS n FROM pg_proc WHERE pronamespace = 'splitgraph_api'::regnamespace`);
    expect(functions[0].n).toBeGreaterThanOrEqual(15);
    expect((await runSql(db, `SELECT value FROM splitgraph_meta.info WHERE key = 'mine'`))[0].value).toBe('kept');
    expect(await runSql(db, `SELECT to_regproc('splitgraph_audit.capture_changes') IS NOT NULL AS found`)).toEqual([{ found: true }]);
  });

  test('can be run by two sessions at once', async () => {
    const other = await server.connect();
    await Promise.all([initializeEngine(db), initializeEngine(other)]);
  });

  test('installs for a database owner who is not a superuser, leaving out postgres_fdw; a transfer then says what is missing', async () => {
    await db.query(`CREATE ROLE owner_only LOGIN PASSWORD 'owner-only-pw'`);
    await db.query(`CREATE DATABASE owned OWNER owner_only`);
    await withClient({ ...server.config, user: 'owner_only', password: 'owner-only-pw', database: 'owned' }, async (owner) => {
      await initializeEngine(owner);
      const extensions = await runSql(owner, `SELECT string_agg(extname, ',' ORDER BY extname) AS names FROM pg_extension`);
      expect(extensions[0].names).toBe('pgcrypto,plpgsql');
      await initRepository(owner, { repository: 'mine' });
      await owner.query(`CREATE TABLE mine.t (id int PRIMARY KEY); INSERT INTO mine.t VALUES (1)`);
      await commit(owner, { repository: 'mine' });
      const error = await push(owner, { client: db, fdw: server.config }, { repository: 'mine' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SplitgraphError);
      expect((error as Error).message).toMatch(/no postgres_fdw extension[\s\S]*CREATE EXTENSION postgres_fdw SCHEMA splitgraph_meta/);
    });
  });
});

describe('SQL operations', () => {
  beforeAll(async () => {
    await runSql(db, `CREATE SCHEMA ops; CREATE TYPE ops.color AS ENUM ('red', 'blue')`);
    await runSql(db, `CREATE TABLE ops.t (a int, b varchar(10), c numeric(8,2), d int[], e ops.color, f timestamp(3) with time zone, PRIMARY KEY (c, a))`);
  });

  test('runs statements, multi-statement strings and batches', async () => {
    expect(await runSql(db, `SELECT 1 AS one; SELECT 2 AS two`)).toEqual([{ two: 2 }]);
    expect(await runSql(db, `SELECT $1::int + 1 AS n`, [41])).toEqual([{ n: 42 }]);
    await runSqlBatch(db, `INSERT INTO ops.t (a, c, b) VALUES ($1, $2, $3)`, [[1, 1.5, 'one'], [2, 2.5, 'two'], [3, 3.5, null]]);
    expect((await runSql(db, `SELECT count(*)::int AS n FROM ops.t`))[0].n).toBe(3);
    await expect(runSqlBatch(db, `INSERT INTO ops.t (a, c) VALUES ($1, $2)`, [[9, 9], [1, 1.5]])).rejects.toThrow(/duplicate key/);
    expect((await runSql(db, `SELECT count(*)::int AS n FROM ops.t`))[0].n).toBe(3);
  });

  test('reads primary keys in key order and columns with full types', async () => {
    expect(await getPrimaryKeys(db, { schema: 'ops', table: 't' })).toEqual([{ name: 'c', type: 'numeric(8,2)' }, { name: 'a', type: 'integer' }]);
    expect(await getTableSchema(db, { schema: 'ops', table: 't' })).toEqual([
      { ordinal: 1, name: 'a', type: 'integer', isPrimaryKey: true },
      { ordinal: 2, name: 'b', type: 'character varying(10)', isPrimaryKey: false },
      { ordinal: 3, name: 'c', type: 'numeric(8,2)', isPrimaryKey: true },
      { ordinal: 4, name: 'd', type: 'integer[]', isPrimaryKey: false },
      { ordinal: 5, name: 'e', type: 'ops.color', isPrimaryKey: false },
      { ordinal: 6, name: 'f', type: 'timestamp(3) with time zone', isPrimaryKey: false },
    ]);
    await expect(getTableSchema(db, { schema: 'ops', table: 'missing' })).rejects.toMatchObject({ code: 'not-found' });
  });

  test('measures tables: the main fork, or everything', async () => {
    const main = await getTableSize(db, { schema: 'ops', table: 't' });
    const total = await getTableSize(db, { schema: 'ops', table: 't' }, { total: true });
    expect(main).toBe(8192);
    expect(total).toBeGreaterThan(main);
  });

  test('locks a table for the current transaction only, and fails outside one', async () => {
    await expect(lockTable(db, { schema: 'ops', table: 't' })).rejects.toMatchObject({ code: 'transaction-state' });
    await db.query('BEGIN');
    await lockTable(db, { schema: 'ops', table: 't' });
    const other = await server.connect();
    await other.query(`SET lock_timeout = '50ms'`);
    await expect(other.query(`INSERT INTO ops.t (a, c) VALUES (7, 7)`)).rejects.toThrow(/lock timeout/);
    expect((await other.query(`SELECT count(*)::int AS n FROM ops.t`)).rows[0].n).toBe(3);
    await db.query('COMMIT');
    await other.query(`INSERT INTO ops.t (a, c) VALUES (7, 7)`);
    await other.query(`DELETE FROM ops.t WHERE a = 7`);
  });

  test('dumps a table as SQL that loads back to the same rows', async () => {
    await runSql(db, `UPDATE ops.t SET d = '{1,NULL}', e = 'blue', f = '2024-05-05 05:05:05.123+03', b = E'it''s \\\\ "x"' WHERE a = 1`);
    const out = new PassThrough();
    let sql = '';
    out.on('data', (chunk: Buffer) => (sql += chunk.toString()));
    await dumpTableSql(db, { schema: 'ops', table: 't' }, out, { target: { schema: 'ops', table: 'copy' }, rowsPerStatement: 2 });
    expect(sql.match(/INSERT INTO "ops"."copy"/g)).toHaveLength(2);
    await runSql(db, `CREATE TABLE ops.copy (LIKE ops.t)`);
    await runSql(db, sql);
    expect(await tableText(db, 'ops.copy')).toEqual(await tableText(db, 'ops.t'));

    let filtered = '';
    const out2 = new PassThrough();
    out2.on('data', (chunk: Buffer) => (filtered += chunk.toString()));
    await dumpTableSql(db, { schema: 'ops', table: 't' }, out2, { columns: ['a', 'b'], where: 'a > $1', whereArgs: [2] });
    expect(filtered).toBe(`INSERT INTO "ops"."t" ("a", "b") VALUES\n('3', NULL);\n`);
    let none = 'untouched';
    const out3 = new PassThrough();
    out3.on('data', () => (none = 'written'));
    await dumpTableSql(db, { schema: 'ops', table: 't' }, out3, { where: 'false' });
    expect(none).toBe('untouched');
  });
});

describe('withClient', () => {
  test('connects with a connection string, runs, and closes the client', async () => {
    const { host, port, user, password } = server.config;
    let used: Client | undefined;
    const answer = await withClient(`postgres://${user}:${password}@${host}:${port}/postgres`, async (client) => {
      used = client;
      return runSql(client, `SELECT 42 AS n`);
    });
    expect(answer).toEqual([{ n: 42 }]);
    await expect(used!.query('SELECT 1')).rejects.toThrow();
  });
});

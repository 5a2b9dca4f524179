/**
 * Bad names and sizes are the caller's fault: NUL characters, names Postgres cannot hold, too many
 * columns or items, numbers out of range and zip bombs get a 4xx in CDF's error shape, never a 500.
 * (The gateway, a pydantic service, answers 422; the sessions and RAW APIs 400.)
 */
import * as fs from 'node:fs';
import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { Cdf, http, tempDataDir, tokenFor, type Response } from './support';

let sandbox: Sandbox;
let dataDir: string;
let cdf: Cdf;
let username: string;
let stderr: jest.SpyInstance;

beforeAll(async () => {
  dataDir = tempDataDir('cognite-limits');
  sandbox = await startSandbox({ dataDir, port: 0, postgresPort: 0 });
  cdf = new Cdf(sandbox, await tokenFor(sandbox));
  username = (await cdf.createUser()).username;
  // A 500 is logged to stderr: none may happen.
  stderr = jest.spyOn(process.stderr, 'write');
});

afterAll(async () => {
  stderr.mockRestore();
  await sandbox?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

afterEach(() => {
  expect(stderr.mock.calls.map(([text]) => String(text)).filter((text) => text.includes('pgstacks sandbox:'))).toEqual([]);
});

const table = (tablename: string, columns: Record<string, { type: string }> = { id: { type: 'TEXT' } }, options: object = { database: 'db', table: 't' }) => ({
  type: 'raw_rows',
  tablename,
  options,
  columns,
});
const tables = (suffix = '') => `/postgresgateway/tables/${username}${suffix}`;

/** A 4xx in CDF's shape, with the message matching `message`. */
function expectRefused(res: Response, status: number, message?: RegExp): void {
  expect(res.body).toEqual({ error: { code: status, message: expect.any(String) } });
  expect(res.status).toBe(status);
  if (message) expect(res.body.error.message).toMatch(message);
}

describe('gateway names (422)', () => {
  test('a NUL in a table, column or key name', async () => {
    expectRefused(await cdf.post(tables(), { items: [table('a\u0000b')] }), 422, /NUL.*items\.0\.tablename/);
    expectRefused(await cdf.post(tables(), { items: [table('nul_column', { 'a\u0000b': { type: 'TEXT' } })] }), 422, /NUL/);
    expectRefused(await cdf.post(tables(), { items: [table('nul_key', { id: { type: 'TEXT' } }, { database: 'db', table: 't', primaryKey: 'i\u0000d' })] }), 422, /NUL/);
    expectRefused(await cdf.post(tables(), { items: [table('nul_db', undefined, { database: 'd\u0000b', table: 't' })] }), 422, /items\.0\.options\.database/);
  });

  test('names over 63 bytes, though within 60 characters', async () => {
    expectRefused(await cdf.post(tables(), { items: [table('é'.repeat(40))] }), 422, /63 bytes.*items\.0\.tablename/);
    expectRefused(await cdf.post(tables(), { items: [table('long_column', { ['c'.repeat(64)]: { type: 'TEXT' } })] }), 422, /1-63 bytes/);
    expect((await cdf.post(tables(), { items: [table('longest_column', { ['c'.repeat(63)]: { type: 'TEXT' } })] })).status).toBe(200);
  });

  test("Postgres' system column names", async () => {
    expectRefused(await cdf.post(tables(), { items: [table('system_column', { ctid: { type: 'TEXT' } })] }), 422, /'ctid' is reserved/);
  });

  test('thousands of columns', async () => {
    const columns = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`c${i}`, { type: 'TEXT' }]));
    expectRefused(await cdf.post(tables(), { items: [table('wide', columns)] }), 422, /at most 1599 items.*not 5000/);
    // As many as Postgres holds (1600 a relation, less the RAW view's ctid) is fine.
    const widest = Object.fromEntries(Object.entries(columns).slice(0, 1599));
    expect((await cdf.post(tables(), { items: [table('widest', widest)] })).status).toBe(200);
  });

  test('a NUL in a username, in the path or the body, or in a nonce', async () => {
    expectRefused(await cdf.get(`/postgresgateway/tables/${encodeURIComponent('a\u0000b')}`), 422, /username/);
    expectRefused(await cdf.post('/postgresgateway/byids', { items: [{ username: 'a\u0000b' }] }), 422, /items\.0\.username/);
    expectRefused(await cdf.post('/postgresgateway', { items: [{ credentials: { nonce: 'n\u0000' } }] }), 422, /nonce/);
  });

  test('a limit or cursor out of range', async () => {
    expectRefused(await cdf.get('/postgresgateway?limit=99999999999999999999999'), 422, /^Input should be less than or equal to \d+: limit$/);
    const nulCursor = Buffer.from(JSON.stringify({ after: '\u0000' })).toString('base64url');
    expectRefused(await cdf.get(`/postgresgateway?cursor=${nulCursor}`), 422, /Invalid cursor/);
    expectRefused(await cdf.post('/postgresgateway/list', { limit: 1e300 }), 422, /limit/);
  });
});

describe('sessions and RAW (400)', () => {
  test('session ids beyond a bigint', async () => {
    expectRefused(await cdf.post('/sessions/byids', { items: [{ id: 1e30 }] }), 400, /^Input should be less than or equal to \d+: items\.0\.id$/);
    expectRefused(await cdf.post('/sessions/byids', { items: [{ id: '99999999999999999999' }] }), 400);
  });

  test('a NUL in session credentials', async () => {
    expectRefused(await cdf.post('/sessions', { items: [{ clientId: 'a\u0000', clientSecret: 's' }] }), 400, /items\.0\.clientId/);
  });

  test('a NUL or an overlong RAW name, in the path or the body', async () => {
    expectRefused(await cdf.get(`/raw/dbs/${encodeURIComponent('d\u0000b')}/tables`), 400, /db/);
    expectRefused(await cdf.get(`/raw/dbs/db/tables/t/rows/${encodeURIComponent('k\u0000')}`), 400, /key/);
    expectRefused(await cdf.post('/raw/dbs', { items: [{ name: 'd\u0000b' }] }), 400, /items\.0\.name/);
    expectRefused(await cdf.post('/raw/dbs', { items: [{ name: 'd'.repeat(33) }] }), 400, /at most 32 characters/);
    expectRefused(await cdf.post('/raw/dbs', { items: Array.from({ length: 1001 }, (_, i) => ({ name: `d${i}` })) }), 400, /at most 1000 items/);
  });
});

describe('bodies', () => {
  test('a gzip body that would inflate past the limit is a 413 in CDF shape', async () => {
    const body = gzipSync(Buffer.from(`{"items":[{"name":"${'x'.repeat(100 * 1024 * 1024)}"}]}`));
    expect(body.length).toBeLessThan(200 * 1024);
    const res = await request(cdf.url('/raw/dbs'), {
      method: 'POST',
      headers: { authorization: `Bearer ${cdf.token}`, 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body,
    });
    expectRefused({ status: res.statusCode, headers: res.headers, body: await res.body.json() }, 413, /once decompressed/);
  });

  test('the token endpoint refuses NUL and malformed Basic credentials with OAuth errors', async () => {
    const nul = await http('POST', sandbox.cognite.tokenUrl, { form: { grant_type: 'client_credentials', client_id: 'a\u0000', client_secret: 's' } });
    expect(nul).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    const basic = await http('POST', sandbox.cognite.tokenUrl, {
      form: { grant_type: 'client_credentials' },
      headers: { authorization: `Basic ${Buffer.from('%zz:%zz').toString('base64')}` },
    });
    expect(basic).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });
});

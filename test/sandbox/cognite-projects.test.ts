/**
 * The Cognite emulator's fixed list of projects: token/inspect lists them all from the start, a
 * request to any other project gets CDF's 403, and made-up names (path traversal included) are
 * never stored.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { asSuperuser, Cdf, http, tempDataDir, tokenFor } from './support';

let sandbox: Sandbox;
let dataDir: string;
let token: string;

/** CDF's answer for a project the token cannot reach. */
const forbidden = { error: { code: 403, message: 'Resource not found. This may also be due to insufficient access rights.' } };

beforeAll(async () => {
  dataDir = tempDataDir('cognite-projects');
  sandbox = await startSandbox({ dataDir, port: 0, postgresPort: 0, cogniteProjects: ['beta', 'acme', 'beta'] });
  token = await tokenFor(sandbox);
});

afterAll(async () => {
  await sandbox?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('the configured projects, sorted and without repeats', () => {
  expect(sandbox.cognite.projects).toEqual(['acme', 'beta']);
});

test('token/inspect lists every configured project from the start, with the client\'s groups', async () => {
  const res = await http('GET', `${sandbox.cognite.baseUrl}/api/v1/token/inspect`, { token });
  expect(res.status).toBe(200);
  expect(res.body.projects).toEqual([
    { projectUrlName: 'acme', groups: [expect.any(Number)] },
    { projectUrlName: 'beta', groups: [expect.any(Number)] },
  ]);

  // A client scoped to some projects sees only those of them the sandbox has.
  await sandbox.cognite.addClient({
    clientId: 'beta-only',
    clientSecret: 'beta-only-secret',
    capabilities: [{ postgresGatewayAcl: { actions: ['READ'], scope: { all: {} } }, projectScope: { projects: ['beta', 'ghost'] } }],
  });
  const scoped = await http('GET', `${sandbox.cognite.baseUrl}/api/v1/token/inspect`, { token: await tokenFor(sandbox, 'beta-only', 'beta-only-secret') });
  expect(scoped.body.projects).toEqual([{ projectUrlName: 'beta', groups: [expect.any(Number)] }]);
});

test('every API of a configured project answers', async () => {
  for (const project of ['acme', 'beta']) {
    const cdf = new Cdf(sandbox, token, project);
    expect((await cdf.get('/postgresgateway')).status).toBe(200);
    expect((await cdf.get('/sessions')).status).toBe(200);
    expect((await cdf.get('/raw/dbs')).status).toBe(200);
  }
});

test("an unknown project gets CDF's 403 on every API, whatever the request", async () => {
  const cdf = new Cdf(sandbox, token, 'gamma');
  expect(await cdf.get('/postgresgateway')).toMatchObject({ status: 403, body: forbidden });
  expect(await cdf.post('/sessions', { items: [{ tokenExchange: true }] })).toMatchObject({ status: 403, body: forbidden });
  expect(await cdf.get('/raw/dbs/db/tables/t/rows')).toMatchObject({ status: 403, body: forbidden });
  // The project is checked before the body: a bad body still hears 403, not 422.
  expect(await cdf.post('/postgresgateway/tables/someone', { items: 'nonsense' })).toMatchObject({ status: 403, body: forbidden });
  // Without a valid token it is a 401 first, as for a real project.
  expect((await new Cdf(sandbox, 'not-a-token', 'gamma').get('/postgresgateway')).status).toBe(401);
});

test('made-up project names, path traversal included, are refused and never stored', async () => {
  const names = ['..%2F..%2Fetc%2Fpasswd', '...', 'ACME', 'acme%00', 'acme%2Fsessions', '-acme', `${'a'.repeat(65)}`];
  for (const name of names) {
    const cdf = new Cdf(sandbox, token, name);
    expect(await cdf.post('/sessions', { items: [{ tokenExchange: true }] })).toMatchObject({ status: 403, body: forbidden });
    expect(await cdf.post('/raw/dbs', { items: [{ name: 'db' }] })).toMatchObject({ status: 403, body: forbidden });
  }
  const stored = await asSuperuser(sandbox, 'pgstacks_sandbox', (c) =>
    c.query(`SELECT project FROM cognite.sessions UNION SELECT project FROM cognite.gateway_users
             UNION SELECT project FROM cognite.raw_dbs UNION SELECT project FROM cognite_raw.rows`),
  );
  expect(stored.rows.map((r) => r.project).every((p: string) => ['acme', 'beta'].includes(p))).toBe(true);
  // A literal dot segment is resolved away by the URL itself: no project, no endpoint.
  expect((await http('POST', `${sandbox.cognite.baseUrl}/api/v1/projects/%2E%2E/sessions`, { token, body: {} })).status).toBe(404);
});

test('startSandbox refuses bad project names before starting anything', async () => {
  const unused = path.join(tempDataDir('cognite-projects-unused'), 'never');
  for (const cogniteProjects of [['../../etc/passwd'], ['Acme'], ['acme', 'a b'], ['a\u0000b'], ['x'.repeat(65)], []]) {
    await expect(startSandbox({ dataDir: unused, port: 0, postgresPort: 0, cogniteProjects })).rejects.toThrow(/Cognite project/);
  }
  expect(fs.existsSync(unused)).toBe(false);
  fs.rmSync(path.dirname(unused), { recursive: true, force: true });
});

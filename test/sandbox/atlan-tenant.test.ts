/**
 * The Atlan emulator's tenant: the environment it prints, the directory the official client
 * resolves names through (roles such as `$admin` to ids, groups, users, API keys, whoami),
 * credentials (create tested or not, test, get without the secret, list by filter, rotate, purge),
 * its rate limit on the injected clock, and a restart that keeps everything, even a run in flight.
 */
import * as fs from 'node:fs';
import { ManualClock, startSandbox, type Sandbox } from '../../src/sandbox';
import { Atlan, createSource, postgresWorkflow } from './atlan-support';
import { asSuperuser, tempDataDir } from './support';

let dataDir: string;
let sandbox: Sandbox | undefined;
const clock = new ManualClock(Date.UTC(2032, 0, 1));

beforeAll(async () => {
  dataDir = tempDataDir('atlan-tenant');
  sandbox = await startSandbox({ dataDir, port: 0, postgresPort: 0, clock });
  await createSource(sandbox, 'ledger', `CREATE ROLE ledger_reader LOGIN PASSWORD 'first'; GRANT CONNECT ON DATABASE ledger TO ledger_reader; CREATE TABLE public.entries (id int); CREATE TABLE public.hidden (id int); GRANT SELECT ON public.entries TO ledger_reader;`);
});

afterAll(async () => {
  await sandbox?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

function live(): Sandbox {
  if (!sandbox) throw new Error('no sandbox');
  return sandbox;
}

const filter = (value: unknown) => encodeURIComponent(JSON.stringify(value));

describe('identity', () => {
  test('env() names the base URL (no path) and the default API key', () => {
    const env = live().env();
    expect(env.ATLAN_BASE_URL).toBe(live().url);
    expect(env.ATLAN_BASE_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(env.ATLAN_API_KEY).toBe(live().atlan.apiKey);
  });

  test('roles resolve $admin to an id (the filter pyatlan sends, count=True); groups and users are paged', async () => {
    const atlan = new Atlan(live());
    const roles = await atlan.ok('GET', `/api/service/roles?count=True&offset=0&limit=100&filter=${filter({ name: { $ilike: '$%' } })}`);
    expect(roles.totalRecord).toBe(4);
    expect(roles.records.map((r: any) => r.name)).toEqual(['$admin', '$member', '$guest', '$api-token-default-access']);
    expect(roles.records[0]).toMatchObject({ id: live().atlan.roleId('$admin'), description: 'Admin', clientRole: false });

    const groups = await atlan.ok('GET', '/api/service/v2/groups?sort=name&count=true&offset=0&limit=20');
    expect(groups.records.map((g: any) => [g.name, g.alias])).toEqual([
      ['admins', 'Admins'],
      ['data-engineers', 'Data Engineers'],
    ]);
    const users = await atlan.ok('GET', '/api/service/users?sort=username&count=true&offset=1&limit=1');
    expect(users).toMatchObject({ totalRecord: 3, filterRecord: 3, records: [{ username: 'guest', workspaceRole: '$guest' }] });
    const byEmail = await atlan.ok('GET', `/api/service/users?limit=20&filter=${filter({ email: { $ilike: '%jdoe%' } })}`);
    expect(byEmail.records.map((u: any) => u.username)).toEqual(['jdoe']);
  });

  test('whoami and apikeys describe the caller; the default key has the API-token role', async () => {
    const atlan = new Atlan(live());
    const me = await atlan.ok('GET', '/api/service/whoami');
    expect(me.username).toMatch(/^service-account-apikey-[0-9a-f-]{36}$/);
    expect(me.roles.map((r: any) => r.name)).toEqual(['$api-token-default-access']);
    const clientId = me.username.replace(/^service-account-/, '');
    const keys = await atlan.ok('GET', `/api/service/apikeys?limit=1&offset=0&filter=${filter({ clientId })}`);
    expect(keys.records).toEqual([expect.objectContaining({ clientId, displayName: 'pgstacks-sandbox', username: me.username })]);
    expect((await atlan.ok('GET', '/api/service/users/current')).username).toBe(me.username);
  });
});

describe('credentials', () => {
  const body = (password: string) => ({
    name: 'default-postgres-1956528000-0',
    host: '127.0.0.1',
    port: live().postgres.port,
    authType: 'basic',
    username: 'ledger_reader',
    password,
    extra: { database: 'ledger' },
    connectorConfigName: 'atlan-connectors-postgres',
  });
  let guid: string;

  test('test connects for real: "successful" only with the right password; IAM cannot work without AWS', async () => {
    const atlan = new Atlan(live());
    expect(await atlan.ok('POST', '/api/service/credentials/test', body('first'))).toMatchObject({ message: 'successful', error: null });
    const wrong = await atlan.ok('POST', '/api/service/credentials/test', body('second'));
    expect(wrong.message).not.toBe('successful');
    expect(wrong.message).toMatch(/authentication failed for user 'ledger_reader'/);
    const iam = await atlan.ok('POST', '/api/service/credentials/test', { ...body(''), authType: 'iam_role', extra: { database: 'ledger', aws_role_arn: 'arn:aws:iam::1:role/x' } });
    expect(iam.message).toMatch(/needs AWS/);
  });

  test('create with testCredential=True tests first; reads never show the password', async () => {
    const atlan = new Atlan(live());
    const refused = await atlan.post('/api/service/credentials?testCredential=True', body('second'));
    expect(refused.status).toBe(400);
    expect(refused.body.errorMessage).toMatch(/Credential test failed/);
    const created = await atlan.ok('POST', '/api/service/credentials?testCredential=True', body('first'));
    guid = created.id;
    expect(created).toMatchObject({ name: 'default-postgres-1956528000-0', authType: 'basic', connector: 'postgres', isActive: true, version: '1', extra: { database: 'ledger' } });
    expect(created.password).toBeUndefined();
    expect((await atlan.ok('GET', `/api/service/credentials/${guid}`)).password).toBeUndefined();
    expect((await atlan.post('/api/service/credentials', { ...body('x'), authType: 'kerberos' })).status).toBe(400);
    expect((await atlan.post('/api/service/credentials', { host: 'h' })).status).toBe(400);
  });

  test('list filters as get_all(workflow_name=...) does; an unknown filter key is a 400', async () => {
    const atlan = new Atlan(live());
    const listed = await atlan.ok('GET', `/api/service/credentials?filter=${filter({ name: 'default-postgres-1956528000-0' })}`);
    expect(listed.records.map((r: any) => r.id)).toEqual([guid]);
    expect((await atlan.ok('GET', `/api/service/credentials?filter=${filter({ name: 'default-postgres-1-0' })}`)).records).toEqual([]);
    const bad = await atlan.get(`/api/service/credentials?filter=${filter({ colour: 'red' })}`);
    expect(bad.status).toBe(400);
    expect(bad.body.errorMessage).toMatch(/unknown field 'colour'/);
  });

  test('rotation: after the password changes at the source, test fails, and test-and-update with the new one works', async () => {
    const atlan = new Atlan(live());
    await asSuperuser(live(), 'postgres', (c) => c.query(`ALTER ROLE ledger_reader PASSWORD 'second'`));
    const current = await atlan.ok('GET', `/api/service/credentials/${guid}`);
    expect((await atlan.ok('POST', '/api/service/credentials/test', { ...current })).message).not.toBe('successful');
    const rotated = { ...current, password: 'second' };
    expect((await atlan.ok('POST', '/api/service/credentials/test', rotated)).message).toBe('successful');
    const updated = await atlan.ok('POST', `/api/service/credentials/${guid}`, rotated);
    expect(updated).toMatchObject({ id: guid, version: '2' });
    // A stored credential tested by id uses its stored secret.
    expect((await atlan.ok('POST', '/api/service/credentials/test', current)).message).toBe('successful');
    expect((await atlan.post(`/api/service/credentials/${guid}`, { ...rotated, id: '00000000-0000-4000-8000-000000000000' })).status).toBe(400);
  });

  test('purge removes it', async () => {
    const atlan = new Atlan(live());
    expect((await atlan.post(`/api/service/credentials/${guid}/archive`)).status).toBe(200);
    const gone = await atlan.get(`/api/service/credentials/${guid}`);
    expect(gone.status).toBe(404);
    expect(gone.body).toMatchObject({ errorCode: 404, errorMessage: expect.stringMatching(/does not exist/) });
    expect((await atlan.post(`/api/service/credentials/${guid}/archive`)).status).toBe(404);
  });
});

describe('rate limit', () => {
  test('over the limit: 429 with Retry-After, every call blocked for a minute of the injected clock', async () => {
    const atlan = new Atlan(live());
    live().atlan.configure({ rateLimitPerMinute: 3 });
    try {
      clock.advanceSeconds(61);
      for (let i = 0; i < 3; i++) expect((await atlan.get('/api/service/whoami')).status).toBe(200);
      const limited = await atlan.get('/api/service/whoami');
      expect(limited.status).toBe(429);
      expect(limited.headers['retry-after']).toBe('60');
      expect(limited.body).toMatchObject({ errorCode: 429, errorMessage: expect.stringMatching(/Rate limit exceeded/) });
      clock.advanceSeconds(45);
      expect((await atlan.get('/api/meta/entity/guid/x')).headers['retry-after']).toBe('15');
      clock.advanceSeconds(15);
      expect((await atlan.get('/api/service/whoami')).status).toBe(200);
    } finally {
      live().atlan.configure({ rateLimitPerMinute: undefined });
    }
  });
});

describe('restart', () => {
  test('keeps the API key, credentials, workflows, assets and a run in flight, which carries on', async () => {
    let atlan = new Atlan(live());
    const epoch = 1956528100;
    const workflow = postgresWorkflow({
      epoch,
      connectionName: 'ledger',
      host: '127.0.0.1',
      port: live().postgres.port,
      database: 'ledger',
      username: 'ledger_reader',
      password: 'second',
      adminGroups: ['admins'],
    });
    await atlan.ok('POST', '/api/service/workflows?submit=true', workflow);
    const run = (await atlan.latestRun(`atlan-postgres-${epoch}`)).metadata.name;
    const { apiKey } = live().atlan;
    const oldPort = live().postgres.port;
    await live().stop();
    sandbox = undefined;

    // The same Postgres port: the stored credential names it.
    sandbox = await startSandbox({ dataDir, port: 0, postgresPort: oldPort, clock });
    expect(sandbox.atlan.apiKey).toBe(apiKey);
    atlan = new Atlan(sandbox);
    expect((await atlan.latestRun(`atlan-postgres-${epoch}`)).metadata.name).toBe(run);
    clock.advanceSeconds(4);
    expect((await atlan.latestRun(`atlan-postgres-${epoch}`)).status.phase).toBe('Succeeded');
    // The crawler sees only what its login may: no privilege on `hidden`.
    expect((await atlan.assets(`default/postgres/${epoch}`, 'Table')).map((e) => e.attributes.name)).toEqual(['entries']);
  });
});

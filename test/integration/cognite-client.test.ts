/** The Cognite client against the sandbox: tokens, retries, timeouts and errors. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CogniteApiError, CogniteClient, type CogniteClientOptions } from '../../src/clients/cognite';
import { startSandbox, type Sandbox } from '../../src/sandbox';

let sandbox: Sandbox;
let dataDir: string;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-client-'));
  // 31 s tokens: fresh at first, inside the 30 s refresh margin a second later.
  sandbox = await startSandbox({ dataDir, port: 0, postgresPort: 0, cogniteTokenTtlSeconds: 31, cogniteProjects: ['acme', 'client'] });
});
afterAll(async () => {
  await sandbox.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});
beforeEach(() => sandbox.faults.clear());

let clients = 0;
/** A client with its own credentials, so no token is shared with another test. */
async function client(options: CogniteClientOptions = {}): Promise<CogniteClient> {
  const credentials = { clientId: `client-${++clients}`, clientSecret: `secret-${clients}` };
  await sandbox.cognite.addClient(credentials);
  return new CogniteClient(
    { baseUrl: sandbox.cognite.baseUrl, project: 'client', tokenUrl: sandbox.cognite.tokenUrl, scopes: ['x'], credentials },
    { timing: { maxRetries: 5, minDelayMs: 50, maxDelayMs: 2000 }, ...options },
  );
}

/** Counts requests to paths matching `path` (a zero delay is a fault rule that changes nothing). */
function count(pathPattern: RegExp): () => number {
  sandbox.faults.add({ path: pathPattern, delayMs: 0, times: 1000 });
  return () => sandbox.faults.applied.filter((f) => pathPattern.test(f.path)).length;
}

test('a token is fetched once and reused', async () => {
  const cdf = await client();
  const tokenRequests = count(/\/oauth2\/v2\.0\/token$/);
  await cdf.listGatewayUsers();
  await cdf.listGatewayUsers();
  await cdf.inspectToken();
  expect(tokenRequests()).toBe(1);
});

test('a token about to expire is refreshed before use', async () => {
  const cdf = await client();
  const tokenRequests = count(/\/oauth2\/v2\.0\/token$/);
  await cdf.listGatewayUsers();
  await new Promise((r) => setTimeout(r, 1200)); // now less than 30 s are left
  await cdf.listGatewayUsers();
  expect(tokenRequests()).toBe(2);
});

test('a 401 gets a new token and one more try', async () => {
  const cdf = await client();
  await cdf.listGatewayUsers();
  const tokenRequests = count(/\/oauth2\/v2\.0\/token$/);
  sandbox.faults.add({ method: 'GET', path: '/cognite/api/v1/projects/client/postgresgateway', status: 401 });
  await expect(cdf.listGatewayUsers()).resolves.toEqual([]);
  expect(tokenRequests()).toBe(1);
});

test('bad client credentials are a clear error naming the client and the token endpoint', async () => {
  const cdf = new CogniteClient({ baseUrl: sandbox.cognite.baseUrl, project: 'client', tokenUrl: sandbox.cognite.tokenUrl, scopes: ['x'], credentials: { clientId: 'nobody', clientSecret: 'wrong' } });
  await expect(cdf.inspectToken()).rejects.toThrow(`could not get a CDF access token for client 'nobody' from ${sandbox.cognite.tokenUrl}: invalid_client`);
});

test('429 and 5xx are retried with backoff, honouring Retry-After', async () => {
  const lines: string[] = [];
  const waits: number[] = [];
  const cdf = await client({ log: (l) => lines.push(l), timing: { maxRetries: 5, minDelayMs: 50, maxDelayMs: 2000, wait: async (ms) => void waits.push(ms) } });
  sandbox.faults.add({ method: 'GET', path: '/cognite/api/v1/projects/client/postgresgateway', status: 503, times: 2 });
  sandbox.faults.add({ method: 'GET', path: '/cognite/api/v1/projects/client/postgresgateway', status: 429, retryAfterSeconds: 1 });
  await expect(cdf.listGatewayUsers()).resolves.toEqual([]);
  expect(waits).toHaveLength(3);
  expect(waits[2]).toBe(1000); // Retry-After, not the backoff
  expect(lines).toEqual([
    expect.stringMatching(/^GET \/cognite\/api\/v1\/projects\/client\/postgresgateway answered HTTP 503; retry 1 in \d\.\ds$/),
    expect.stringMatching(/answered HTTP 503; retry 2 in/),
    expect.stringMatching(/answered HTTP 429; retry 3 in 1\.0s$/),
  ]);
});

test('retries give up after maxRetries and report the last answer', async () => {
  const cdf = await client({ timing: { maxRetries: 2, minDelayMs: 10, maxDelayMs: 50 } });
  sandbox.faults.add({ method: 'GET', path: '/cognite/api/v1/projects/client/postgresgateway', status: 502, times: 10 });
  const error = (await cdf.listGatewayUsers().catch((e) => e)) as CogniteApiError;
  expect(error).toBeInstanceOf(CogniteApiError);
  expect(error.status).toBe(502);
  expect(sandbox.faults.applied).toHaveLength(3);
});

test('a slow answer times out, and an idempotent call is tried again', async () => {
  const cdf = await client({ timeoutMs: 300 });
  await cdf.inspectToken();
  sandbox.faults.add({ method: 'GET', path: '/cognite/api/v1/projects/client/postgresgateway', delayMs: 1000 });
  await expect(cdf.listGatewayUsers()).resolves.toEqual([]);
  expect(sandbox.faults.applied.map((f) => f.fault)).toEqual(['delay']);

  sandbox.faults.add({ method: 'POST', path: '/cognite/api/v1/projects/client/sessions', delayMs: 1000 });
  await expect(cdf.createSession({ clientId: `client-${clients}`, clientSecret: `secret-${clients}` })).rejects.toThrow(/Headers Timeout/);
});

test('errors carry status, message, request id and the identifiers CDF names', async () => {
  const cdf = await client();
  const error = (await cdf.call('POST', '/postgresgateway/byids', { body: { items: [{ username: 'nobody' }] } }).catch((e) => e)) as CogniteApiError;
  expect(error).toBeInstanceOf(CogniteApiError);
  expect(error.status).toBe(404);
  expect(error.missing).toEqual([{ username: 'nobody' }]);
  expect(error.requestId).toMatch(/^[0-9a-f]+$/);
  expect(error.message).toBe(
    `POST /cognite/api/v1/projects/client/postgresgateway/byids: CDF answered 404: ${error.cdfMessage} (missing: [{"username":"nobody"}]) [request id ${error.requestId}]`,
  );
});

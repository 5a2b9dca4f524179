/**
 * The client kit (src/clients: json-api, errors, oauth) against a scripted in-process server:
 * typed errors, 401 refresh, retries by policy, lost answers, pagination and tokens.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CogniteApiError } from '../../src/clients/cognite';
import { ApiError, ConflictError, LostResponseError, NotFoundError, RateLimitedError, ServiceError, UnreachableError } from '../../src/clients/errors';
import { RETRY_IDEMPOTENT } from '../../src/clients/http';
import { JsonApi, type JsonApiOptions } from '../../src/clients/json-api';
import { bearerToken, clientCredentials, type AuthProvider, type ClientCredentialsOptions } from '../../src/clients/oauth';

interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
}
type Answer = { status?: number; body?: unknown; headers?: Record<string, string> } | 'reset' | 'hang';

let server: http.Server;
let base: string;
const seen: Seen[] = [];
/** Answers each request; tests replace it. */
let answer: (req: Seen) => Answer | Promise<Answer>;

beforeAll(async () => {
  server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const request: Seen = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
    seen.push(request);
    const a = await answer(request);
    if (a === 'reset') return void req.socket.destroy(); // the request arrived; the answer never leaves
    if (a === 'hang') return;
    res.writeHead(a.status ?? 200, { 'content-type': 'application/json', 'x-request-id': `req-${seen.length}`, ...a.headers });
    res.end(a.body === undefined || typeof a.body === 'string' ? a.body : JSON.stringify(a.body)); // a string is sent raw
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  seen.length = 0;
  answer = () => ({ body: {} });
});

const lines: string[] = [];
const api = (options: Partial<JsonApiOptions> = {}) => {
  lines.length = 0;
  return new JsonApi({ service: 'Svc', baseUrl: `${base}/api`, timing: { maxRetries: 2, minDelayMs: 10, maxDelayMs: 2000 }, log: (l) => lines.push(l), ...options });
};
const error = (promise: Promise<unknown>) => promise.then(() => undefined, (e: unknown) => e);

describe('errors', () => {
  test('an error answer becomes the kind its status says, carrying status, message, request id and call', async () => {
    answer = (req) => ({ status: Number(req.path.split('/').pop()), body: { error_code: 'CODE', message: `no luck at ${req.path}` } });
    const notFound = (await error(api().call('GET', '/things/404'))) as NotFoundError;
    expect(notFound).toBeInstanceOf(NotFoundError);
    expect(notFound).toBeInstanceOf(ApiError);
    expect(notFound).toBeInstanceOf(ServiceError);
    expect(notFound).not.toBeInstanceOf(ConflictError);
    expect(notFound).toMatchObject({ name: 'NotFoundError', status: 404, serviceMessage: 'no luck at /api/things/404', call: 'GET /api/things/404', service: 'Svc', details: { error_code: 'CODE' } });
    expect(notFound.requestId).toMatch(/^req-\d+$/);
    expect(notFound.message).toBe(`GET /api/things/404: Svc answered 404: no luck at /api/things/404 (error_code: CODE) [request id ${notFound.requestId}]`);
    expect(await error(api().call('PUT', '/things/409'))).toBeInstanceOf(ConflictError);
    const other = await error(api().call('GET', '/things/400'));
    expect(other).toBeInstanceOf(ApiError);
    expect(other).not.toBeInstanceOf(NotFoundError);
    expect(other).toMatchObject({ name: 'ApiError', status: 400 });
  });

  test('429 that outlasts the retries is a RateLimitedError', async () => {
    answer = () => ({ status: 429, body: { message: 'slow down' } });
    const e = await error(api().call('GET', '/busy'));
    expect(e).toBeInstanceOf(RateLimitedError);
    expect(seen).toHaveLength(3); // the first try and 2 retries
  });

  test("a service's own error class parses its body and is still the kind by status", async () => {
    answer = () => ({ status: 404, body: { error: { code: 404, message: 'Not found', missing: [{ username: 'x' }] } } });
    const cdf = api({ service: 'CDF', createError: (init) => new CogniteApiError(init), parseError: (b) => ({ message: (b as any).error.message, details: { missing: (b as any).error.missing } }) });
    const e = (await error(cdf.call('POST', '/byids', { body: {} }))) as CogniteApiError;
    expect(e).toBeInstanceOf(CogniteApiError);
    expect(e).toBeInstanceOf(NotFoundError);
    expect(e).not.toBeInstanceOf(RateLimitedError);
    expect(e).toMatchObject({ name: 'CogniteApiError', cdfMessage: 'Not found', missing: [{ username: 'x' }] });
    expect(e.message).toMatch(/^POST \/api\/byids: CDF answered 404: Not found \(missing: \[\{"username":"x"\}\]\) \[request id req-1\]$/);
  });

  test('an error body that is not JSON is quoted as the message', async () => {
    answer = () => ({ status: 502, headers: { 'content-type': 'text/html' }, body: '<html>bad gateway</html>' });
    const e = (await error(api({ timing: { maxRetries: 0, minDelayMs: 1, maxDelayMs: 1 } }).call('GET', '/x'))) as ApiError;
    expect(e.serviceMessage).toBe('<html>bad gateway</html>');
    expect(e.message).toBe('GET /api/x: Svc answered 502: <html>bad gateway</html> [request id req-1]');
  });

  test('a success whose body is not JSON is an error, not an empty answer', async () => {
    answer = () => ({ status: 200, body: 'OK' });
    const e = await error(api().call('GET', '/x'));
    expect(e).toBeInstanceOf(ServiceError);
    expect(e).not.toBeInstanceOf(ApiError);
    expect((e as Error).message).toBe('GET /api/x: Svc answered 200 with a body that is not JSON: OK');
    answer = () => ({ status: 204 });
    await expect(api().call('DELETE', '/x')).resolves.toEqual({});
  });
});

describe('auth', () => {
  /** Accepts only `Bearer good`; `refresh` switches from the revoked token to it. */
  function rotatingAuth() {
    let token = 'revoked';
    const refreshes: Array<Record<string, string>> = [];
    const auth: AuthProvider = {
      headers: async () => ({ authorization: `Bearer ${token}` }),
      refresh: async (rejected) => {
        refreshes.push({ ...rejected });
        token = 'good';
      },
    };
    return { auth, refreshes };
  }

  test('a 401 refreshes the credentials once and sends the call once more', async () => {
    answer = (req) => (req.headers.authorization === 'Bearer good' ? { body: { ok: true } } : { status: 401, body: { message: 'token revoked' } });
    const { auth, refreshes } = rotatingAuth();
    await expect(api({ auth }).call('POST', '/things', { body: { a: 1 } })).resolves.toEqual({ ok: true });
    expect(refreshes).toEqual([{ authorization: 'Bearer revoked' }]);
    expect(seen.map((s) => s.headers.authorization)).toEqual(['Bearer revoked', 'Bearer good']);
  });

  test('a second 401 is final', async () => {
    answer = () => ({ status: 401, body: { message: 'who are you' } });
    const { auth, refreshes } = rotatingAuth();
    const e = await error(api({ auth }).call('GET', '/things'));
    expect(e).toMatchObject({ status: 401, serviceMessage: 'who are you' });
    expect(refreshes).toHaveLength(1);
    expect(seen).toHaveLength(2);
  });

  test('a static bearer token is sent as it is, and a 401 is not retried', async () => {
    answer = () => ({ status: 401, body: { message: 'expired PAT' } });
    await expect(api({ auth: bearerToken('dapi123') }).call('GET', '/me')).rejects.toThrow('GET /api/me: Svc answered 401: expired PAT');
    expect(seen.map((s) => s.headers.authorization)).toEqual(['Bearer dapi123']);
  });
});

describe('retries', () => {
  test('429 is retried after Retry-After, with a log line', async () => {
    let n = 0;
    answer = () => (n++ === 0 ? { status: 429, headers: { 'retry-after': '1' }, body: { message: 'busy' } } : { body: { ok: 1 } });
    const waits: number[] = [];
    const timing = { maxRetries: 2, minDelayMs: 10, maxDelayMs: 2000, wait: async (ms: number) => void waits.push(ms) };
    await expect(api({ timing }).call('POST', '/things', { body: {} })).resolves.toEqual({ ok: 1 }); // even a POST: 429 means not done
    expect(waits).toEqual([1000]);
    expect(lines).toEqual(['POST /api/things answered HTTP 429; retry 1 in 1.0s']);
  });

  test('a POST is not retried on 5xx; an idempotent call is', async () => {
    answer = () => ({ status: 503, body: { message: 'unavailable' } });
    const e = await error(api().call('POST', '/things', { body: {} }));
    expect(e).toMatchObject({ name: 'ApiError', status: 503 });
    expect(seen).toHaveLength(1);
    seen.length = 0;
    await error(api().call('GET', '/things'));
    expect(seen).toHaveLength(3);
    seen.length = 0;
    await error(api().call('POST', '/things/byids', { body: {}, retry: RETRY_IDEMPOTENT })); // a read that happens to be a POST
    expect(seen).toHaveLength(3);
  });

  test('a connection reset after the request was sent: a POST fails as LostResponseError, a GET is retried', async () => {
    answer = () => 'reset';
    const e = (await error(api().call('POST', '/users', { body: { nonce: 'n' } }))) as LostResponseError;
    expect(e).toBeInstanceOf(LostResponseError);
    expect(e).not.toBeInstanceOf(ApiError);
    expect(e.message).toMatch(/^POST \/api\/users: no answer from Svc \(.+\); the request may have been carried out$/);
    expect(seen).toHaveLength(1);

    seen.length = 0;
    let n = 0;
    answer = () => (n++ === 0 ? 'reset' : { body: { items: [] } });
    await expect(api().call('GET', '/users')).resolves.toEqual({ items: [] });
    expect(seen).toHaveLength(2);
  });

  test('no answer within the timeout: LostResponseError for a POST', async () => {
    answer = () => 'hang';
    const e = await error(api({ timeoutMs: 200 }).call('POST', '/slow', { body: {} }));
    expect(e).toBeInstanceOf(LostResponseError);
    expect((e as Error).message).toMatch(/Headers Timeout/);
    expect(seen).toHaveLength(1);
  });

  test('a service that cannot be reached is UnreachableError: nothing was sent', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const e = await error(api({ baseUrl: `http://127.0.0.1:${port}` }).call('POST', '/things', { body: {} }));
    expect(e).toBeInstanceOf(UnreachableError);
    expect((e as Error).message).toMatch(/^POST \/things: could not reach Svc \(ECONNREFUSED/);
    expect(lines).toHaveLength(2); // refused connections are retried even for a POST: nothing was done
  });

  test('an aborted call rejects with the abort, not a service error', async () => {
    answer = () => 'hang';
    const controller = new AbortController();
    const call = api().call('GET', '/slow', { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('deadline')), 50);
    const e = await error(call);
    expect(e).not.toBeInstanceOf(ServiceError);
    expect((e as Error).message).toBe('deadline');
  });
});

describe('pagination', () => {
  const pages = (itemsField: string, cursorField: string, cursorParam: string) => (req: Seen) => {
    const page = Number(req.query.get(cursorParam) ?? 0);
    return { body: { [itemsField]: [page * 2, page * 2 + 1], ...(page < 2 ? { [cursorField]: String(page + 1) } : {}) } };
  };

  test('follows nextCursor to the end', async () => {
    answer = pages('items', 'nextCursor', 'cursor');
    await expect(api().listAll<number>('/things', { query: { limit: 2 } })).resolves.toEqual([0, 1, 2, 3, 4, 5]);
    expect(seen.map((s) => s.query.toString())).toEqual(['limit=2', 'limit=2&cursor=1', 'limit=2&cursor=2']);
  });

  test('Databricks style: next_page_token and page_token, items under their own name', async () => {
    answer = pages('projects', 'next_page_token', 'page_token');
    const all = await api().listAll<number>('/projects', { items: 'projects', cursorField: 'next_page_token', cursorParam: 'page_token' });
    expect(all).toEqual([0, 1, 2, 3, 4, 5]);
  });

  test('a cursor handed out twice stops the listing', async () => {
    answer = () => ({ body: { items: [1], nextCursor: 'same' } });
    await expect(api().listAll('/loop')).rejects.toThrow("GET /api/loop: Svc returned the cursor 'same' twice");
  });
});

describe('OAuth client credentials', () => {
  let clients = 0;
  let tokenAnswer: (req: Seen) => Answer;
  const tokenRequests = () => seen.filter((s) => s.path === '/token');

  beforeEach(() => {
    let issued = 0;
    tokenAnswer = () => ({ body: { access_token: `t${++issued}`, expires_in: 3600, token_type: 'Bearer' } });
    answer = (req) => (req.path === '/token' ? tokenAnswer(req) : { body: { auth: req.headers.authorization } });
  });

  /** A provider for an identity no other test uses, so the process-wide cache starts empty. */
  const provider = (options: Partial<ClientCredentialsOptions> = {}) =>
    clientCredentials({ tokenUrl: `${base}/token`, clientId: `app-${++clients}`, clientSecret: 's3cret', scopes: ['read', 'write'], ...options });

  test('sends the client credentials grant; concurrent calls share one token request', async () => {
    const auth = provider({ params: { resource: 'r' } });
    const svc = api({ auth });
    const answers = await Promise.all(Array.from({ length: 10 }, () => svc.call<{ auth: string }>('GET', '/x')));
    expect(answers.map((a) => a.auth)).toEqual(Array(10).fill('Bearer t1'));
    expect(tokenRequests()).toHaveLength(1);
    expect(Object.fromEntries(new URLSearchParams(tokenRequests()[0].body))).toEqual({
      grant_type: 'client_credentials', client_id: `app-${clients}`, client_secret: 's3cret', scope: 'read write', resource: 'r',
    });
  });

  test('a token is cached per identity in the process, across providers and clients', async () => {
    const options = { tokenUrl: `${base}/token`, clientId: `app-${++clients}`, clientSecret: 's3cret', scopes: ['x'] };
    await api({ auth: clientCredentials(options) }).call('GET', '/x');
    await api({ auth: clientCredentials(options) }).call('GET', '/x');
    await api({ auth: clientCredentials({ ...options, scopes: ['y'] }) }).call('GET', '/x');
    expect(tokenRequests()).toHaveLength(2);
  });

  test('HTTP Basic client auth and extra form params (Databricks: scope=all-apis)', async () => {
    await provider({ scopes: [], params: { scope: 'all-apis' }, clientAuth: 'basic' }).token();
    const [req] = tokenRequests();
    expect(req.headers.authorization).toBe(`Basic ${Buffer.from(`app-${clients}:s3cret`).toString('base64')}`);
    expect(Object.fromEntries(new URLSearchParams(req.body))).toEqual({ grant_type: 'client_credentials', scope: 'all-apis' });
  });

  test('a token with less than 30 s left is fetched again', async () => {
    let issued = 0;
    tokenAnswer = () => ({ body: { access_token: `short${++issued}`, expires_in: 20 } });
    const auth = provider();
    expect(await auth.token()).toBe('short1');
    expect(await auth.token()).toBe('short2');
  });

  test('concurrent 401s make one new token request, then every call succeeds', async () => {
    const auth = provider();
    await auth.token(); // t1, which the service now rejects
    answer = (req) => (req.path === '/token' ? tokenAnswer(req) : req.headers.authorization === 'Bearer t1' ? { status: 401, body: { message: 'revoked' } } : { body: { ok: true } });
    const svc = api({ auth });
    seen.length = 0;
    await expect(Promise.all(Array.from({ length: 5 }, () => svc.call('GET', '/x')))).resolves.toEqual(Array(5).fill({ ok: true }));
    expect(tokenRequests()).toHaveLength(1);
  });

  test('a failure names the client and the token endpoint, and is not cached', async () => {
    tokenAnswer = () => ({ status: 401, body: { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' } });
    const auth = provider({ service: 'Databricks' });
    await expect(api({ auth }).call('GET', '/x')).rejects.toThrow(
      `could not get a Databricks access token for client 'app-${clients}' from ${base}/token: invalid_client: AADSTS7000215: Invalid client secret provided.`,
    );
    await expect(provider().token()).rejects.toThrow(/^could not get an access token for client 'app-\d+' from .*\/token: invalid_client/);
    tokenAnswer = () => ({ body: { access_token: 'fixed', expires_in: 3600 } });
    await expect(auth.token()).resolves.toBe('fixed');
  });

  test('warmUp asks for the token without waiting; the first call uses it, and a failed warm-up is left for a call to report', async () => {
    const arrived = async (count: number) => {
      for (let i = 0; i < 200 && tokenRequests().length < count; i++) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(tokenRequests()).toHaveLength(count);
    };
    const svc = api({ auth: provider() });
    svc.warmUp();
    await arrived(1); // before any call
    expect(await svc.call('GET', '/x')).toEqual({ auth: 'Bearer t1' });
    expect(tokenRequests()).toHaveLength(1);

    tokenAnswer = () => ({ status: 401, body: { error: 'invalid_client' } });
    const failing = api({ auth: provider() });
    failing.warmUp(); // nothing thrown, no unhandled rejection
    await arrived(2);
    tokenAnswer = () => ({ body: { access_token: 'later', expires_in: 3600 } });
    expect(await failing.call('GET', '/x')).toEqual({ auth: 'Bearer later' }); // the failure was not cached
    expect(tokenRequests()).toHaveLength(3);
    expect(() => api({ auth: bearerToken('pat') }).warmUp()).not.toThrow(); // nothing to get
  });

  test('an answer without a token is a failure too', async () => {
    tokenAnswer = () => ({ status: 200, body: { token_type: 'Bearer' } });
    await expect(provider().token()).rejects.toThrow(/: HTTP 200$/);
  });
});

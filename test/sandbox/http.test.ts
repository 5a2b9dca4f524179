/** The sandbox's HTTP layer on its own: routing, bodies, error shapes and fault injection. */
import { deflateSync, gzipSync } from 'node:zlib';
import { request } from 'undici';
import { HttpError, SandboxServer, type Service } from '../../src/sandbox/http';

let server: SandboxServer;
let url: string;
const calls: string[] = [];

const echo: Service = {
  prefix: '/svc',
  errorBody: (error) => ({ problem: { status: error.status, text: error.message, ...error.details } }),
  routes: [
    {
      method: 'POST',
      path: '/things/:name',
      async handler(ctx) {
        calls.push(ctx.params.name!);
        return { name: ctx.params.name, body: await ctx.json(), q: ctx.query.get('q') };
      },
    },
    { method: 'GET', path: '/fail', handler: () => { throw new HttpError(418, 'teapot', { extra: [1] }); } },
    { method: 'GET', path: '/bug', handler: () => { throw new Error('oops'); } },
  ],
};

beforeAll(async () => {
  server = new SandboxServer();
  server.mount(echo);
  url = `http://127.0.0.1:${await server.listen(0)}`;
});
afterAll(() => server.close());
afterEach(() => {
  server.faults.clear();
  calls.length = 0;
});

async function call(method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}) {
  const res = await request(`${url}${path}`, { method: method as 'GET', body, headers });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

test('routes with decoded parameters, JSON bodies plain, gzip or deflate', async () => {
  const plain = await call('POST', '/svc/things/a%2Fb?q=1', '{"x":1}');
  expect(plain.status).toBe(200);
  expect(plain.body).toEqual({ name: 'a/b', body: { x: 1 }, q: '1' });
  expect(plain.headers['x-request-id']).toMatch(/^[0-9a-f]{16}$/);
  expect((await call('POST', '/svc/things/z', gzipSync('{"g":1}'), { 'content-encoding': 'gzip' })).body.body).toEqual({ g: 1 });
  expect((await call('POST', '/svc/things/z', deflateSync('{"d":1}'), { 'content-encoding': 'deflate' })).body.body).toEqual({ d: 1 });
  expect((await call('POST', '/svc/things/z', 'x', { 'content-encoding': 'br' })).status).toBe(415);
  expect((await call('POST', '/svc/things/z', 'x', { 'content-encoding': 'gzip' })).status).toBe(400);
});

test("errors come in the service's shape; unknown paths and methods too", async () => {
  expect(await call('GET', '/svc/fail')).toMatchObject({ status: 418, body: { problem: { status: 418, text: 'teapot', extra: [1] } } });
  expect(await call('POST', '/svc/things/z', '{nope')).toMatchObject({ status: 400, body: { problem: { status: 400 } } });
  expect(await call('GET', '/svc/things/z')).toMatchObject({ status: 405, body: { problem: { status: 405 } } });
  expect(await call('GET', '/svc/nothing')).toMatchObject({ status: 404, body: { problem: { status: 404 } } });
  expect(await call('GET', '/elsewhere')).toMatchObject({ status: 404, body: { error: { code: 404 } } });
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    expect(await call('GET', '/svc/bug')).toMatchObject({ status: 500, body: { problem: { status: 500, text: expect.stringContaining('oops') } } });
  } finally {
    stderr.mockRestore();
  }
});

test('fault rules: method filter, first match, times; drop before skips the handler, drop after runs it', async () => {
  server.faults.add({ method: 'GET', path: '/svc/things/a', status: 500 }); // never matches a POST
  server.faults.add({ path: /^\/svc\/things\//, status: 502, times: 2 });
  expect((await call('POST', '/svc/things/a', '{}')).status).toBe(502);
  expect((await call('POST', '/svc/things/b', '{}')).body).toEqual({ problem: { status: 502, text: expect.any(String) } });
  expect((await call('POST', '/svc/things/c', '{}')).status).toBe(200);
  expect(calls).toEqual(['c']);

  server.faults.add({ path: '/svc/things/before', drop: 'before' });
  server.faults.add({ path: '/svc/things/after', drop: 'after' });
  await expect(call('POST', '/svc/things/before', '{}')).rejects.toThrow();
  await expect(call('POST', '/svc/things/after', '{}')).rejects.toThrow();
  expect(calls).toEqual(['c', 'after']);
  expect(server.faults.applied.map((f) => f.fault)).toEqual(['502', '502', 'drop-before', 'drop-after']);
});

test('a delay slows the response and then handles it normally', async () => {
  server.faults.add({ path: '/svc/things/slow', delayMs: 100 });
  const started = Date.now();
  expect((await call('POST', '/svc/things/slow', '{}')).status).toBe(200);
  expect(Date.now() - started).toBeGreaterThanOrEqual(95);
  expect(server.faults.applied).toEqual([{ method: 'POST', path: '/svc/things/slow', fault: 'delay' }]);
});

test('a rule must say what to do', () => {
  expect(() => server.faults.add({ path: '/x' })).toThrow(/status, drop or delayMs/);
  expect(() => server.faults.add({ path: '/x', status: 500, drop: 'after' })).toThrow(/not both/);
});

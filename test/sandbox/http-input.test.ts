/**
 * The HTTP layer's input handling on its own: routes declare zod schemas for params, query and
 * body; the guard runs before validation; the service's formatter words the 4xx; bodies are
 * limited after decompression (no zip bombs); errors a service translates never become 500s.
 */
import { deflateSync, gzipSync } from 'node:zlib';
import { request } from 'undici';
import * as z from 'zod';
import { HttpError, route, SandboxServer, type Service } from '../../src/sandbox/http';

const MAX_BODY_BYTES = 1024 * 1024;
let server: SandboxServer;
let url: string;
const guarded: string[] = [];

const things: Service = {
  prefix: '/svc',
  errorBody: (error) => ({ problem: { status: error.status, text: error.message } }),
  invalidInput: (issues, part) => new HttpError(422, `${part}: ${issues.map((i) => `${i.path.join('.')} ${i.code}`).join(', ')}`),
  translateError: (error) => ((error as { code?: string }).code === 'BAD_VALUE' ? new HttpError(400, 'bad value') : undefined),
  routes: [
    route({
      method: 'POST',
      path: '/things/:id',
      guard: (ctx) => {
        if (ctx.headers.authorization !== 'yes') throw new HttpError(401, 'who are you?');
        guarded.push(ctx.params.id!);
        return { caller: 'tester' };
      },
      params: z.object({ id: z.coerce.number().int() }),
      query: z.object({ dryRun: z.enum(['true', 'false']).default('false') }),
      body: z.strictObject({ names: z.array(z.string()).min(1) }),
      // The input is typed: id is a number, names a string[], caller a string.
      handler: (_ctx, { params, query, body, guard }) => ({ id: params.id + 1, dryRun: query.dryRun === 'true', count: body.names.length, caller: guard.caller }),
    }),
    route({
      method: 'POST',
      path: '/strict',
      body: z.object({ n: z.number() }),
      invalidInput: () => new HttpError(400, 'this route words its own errors'),
      handler: () => ({}),
    }),
    route({
      method: 'POST',
      path: '/size',
      handler: async (ctx) => ({ bytes: (await ctx.body()).length }),
    }),
    route({
      method: 'GET',
      path: '/refused',
      handler: () => {
        throw Object.assign(new Error('the database said no'), { code: 'BAD_VALUE' });
      },
    }),
  ],
};

beforeAll(async () => {
  server = new SandboxServer({ maxBodyBytes: MAX_BODY_BYTES });
  server.mount(things);
  url = `http://127.0.0.1:${await server.listen(0)}`;
});
afterAll(() => server.close());
afterEach(() => {
  guarded.length = 0;
});

async function call(method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}) {
  const res = await request(`${url}${path}`, { method: method as 'POST', body, headers });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? JSON.parse(text) : undefined };
}

describe('schemas', () => {
  test('a valid request reaches the handler with parsed, typed input', async () => {
    const res = await call('POST', '/svc/things/41?dryRun=true', JSON.stringify({ names: ['a', 'b'] }), { authorization: 'yes' });
    expect(res).toEqual({ status: 200, body: { id: 42, dryRun: true, count: 2, caller: 'tester' } });
  });

  test("invalid params, query or body are answered by the service's formatter, naming the part", async () => {
    const auth = { authorization: 'yes' };
    expect(await call('POST', '/svc/things/x', '{"names":["a"]}', auth)).toEqual({ status: 422, body: { problem: { status: 422, text: 'params: id invalid_type' } } });
    expect((await call('POST', '/svc/things/1?dryRun=maybe', '{"names":["a"]}', auth)).body.problem.text).toBe('query: dryRun invalid_value');
    expect((await call('POST', '/svc/things/1', '{"names":[],"extra":1}', auth)).body.problem.text).toBe('body: names too_small,  unrecognized_keys');
    expect((await call('POST', '/svc/things/1', undefined, auth)).body.problem.text).toBe('body:  invalid_type');
  });

  test('a route may word its own validation errors', async () => {
    expect(await call('POST', '/svc/strict', '{"n":"one"}')).toEqual({ status: 400, body: { problem: { status: 400, text: 'this route words its own errors' } } });
  });

  test('the guard runs first: without access, a bad request is a 401, not a 422', async () => {
    expect((await call('POST', '/svc/things/x', '{}')).status).toBe(401);
    expect(guarded).toEqual([]);
  });

  test("an error the service translates is its 4xx, not a 500", async () => {
    expect(await call('GET', '/svc/refused')).toEqual({ status: 400, body: { problem: { status: 400, text: 'bad value' } } });
  });

  test('the request log lists what was asked and answered, until cleared', async () => {
    server.requests.length = 0;
    await call('GET', '/svc/refused?x=1');
    await call('POST', '/nowhere');
    expect(server.requests).toEqual([
      { method: 'GET', path: '/svc/refused', query: 'x=1', status: 400 },
      { method: 'POST', path: '/nowhere', query: '', status: 404 },
    ]);
  });
});

describe('body limits', () => {
  test('bodies up to the limit are read, plain or compressed', async () => {
    const body = Buffer.alloc(MAX_BODY_BYTES, 'a');
    expect((await call('POST', '/svc/size', body)).body).toEqual({ bytes: MAX_BODY_BYTES });
    expect((await call('POST', '/svc/size', gzipSync(body), { 'content-encoding': 'gzip' })).body).toEqual({ bytes: MAX_BODY_BYTES });
  });

  test('a plain body over the limit is a 413', async () => {
    const res = await call('POST', '/svc/size', Buffer.alloc(MAX_BODY_BYTES + 1, 'a'));
    expect(res.status).toBe(413);
    expect(res.body.problem.text).toContain(String(MAX_BODY_BYTES));
  });

  test('a gzip bomb (100 KB that inflates to 100 MB) is a 413 without inflating it all', async () => {
    const bomb = gzipSync(Buffer.alloc(100 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(150 * 1024);
    const before = process.memoryUsage().arrayBuffers;
    const res = await call('POST', '/svc/size', bomb, { 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    expect(res.body.problem.text).toMatch(/once decompressed/);
    // Inflating it all would have taken 100 MB at once.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(50 * 1024 * 1024);
  });

  test('a deflate bomb is refused the same way', async () => {
    const res = await call('POST', '/svc/size', deflateSync(Buffer.alloc(20 * 1024 * 1024)), { 'content-encoding': 'deflate' });
    expect(res.status).toBe(413);
  });
});

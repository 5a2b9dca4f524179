/**
 * A test-only resource type whose create answers a long-running operation, Databricks style, over
 * a tiny in-process API:
 * - `POST /projects {name, size}` answers `{ name: 'operations/op-N', done: false }`;
 * - `GET /operations/op-N` finishes after `pollsToFinish` polls, with the project as `response`
 *   (or with `error` when `failNext` was set);
 * - `GET /projects/:id`, `GET /projects?name=` (paged: `page_size`, `page_token`,
 *   `next_page_token`), `DELETE /projects/:id`; errors are `{error_code, message}`.
 * The type (`test:op-project`) is built on the client kit (JsonApi) and awaitOperation.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as z from 'zod';
import { NotFoundError } from '../../src/clients/errors';
import { JsonApi } from '../../src/clients/json-api';
import { awaitOperation, resumeOperation, type LongRunningOperation, type OperationClock } from '../../src/runtime/operations';
import { defineResourceType, type HandlerContext } from '../../src/runtime/resource-type';
import type { ResourceSpec } from '../../src/runtime/spec';

export interface Project {
  id: string;
  name: string;
  size: number;
}

interface ServerOperation {
  project: Project;
  polls: number;
  error?: string;
}

export class OperationServer {
  readonly calls: Array<{ method: string; path: string }> = [];
  readonly projects = new Map<string, Project>();
  readonly operations = new Map<string, ServerOperation>();
  /** How many polls an operation takes to be done (Infinity: never). */
  pollsToFinish = 3;
  /** The next create's operation ends in this error. */
  failNext?: string;
  private server?: http.Server;
  private nextId = 1;

  get url(): string {
    return `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}`;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  reset(): void {
    this.calls.length = 0;
    this.projects.clear();
    this.operations.clear();
    this.pollsToFinish = 3;
    this.failNext = undefined;
    this.nextId = 1;
  }

  count(method: string, pathPattern: RegExp): number {
    return this.calls.filter((c) => c.method === method && pathPattern.test(c.path)).length;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    this.calls.push({ method, path: url.pathname });
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': `req-${this.calls.length}` });
      res.end(JSON.stringify(body));
    };
    const notFound = (what: string) => send(404, { error_code: 'NOT_FOUND', message: `${what} does not exist` });
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
    const [collection, id] = url.pathname.split('/').filter(Boolean);

    if (collection === 'projects' && method === 'POST' && !id) {
      const n = this.nextId++;
      this.operations.set(`op-${n}`, { project: { id: `p-${n}`, name: String(body.name), size: Number(body.size) }, polls: 0, error: this.failNext });
      this.failNext = undefined;
      return send(200, { name: `operations/op-${n}`, done: false });
    }
    if (collection === 'operations' && method === 'GET' && id) {
      const op = this.operations.get(id);
      if (!op) return notFound(`operation ${id}`);
      op.polls++;
      if (op.polls < this.pollsToFinish) return send(200, { name: `operations/${id}`, done: false, metadata: { polls: op.polls } });
      if (op.error) return send(200, { name: `operations/${id}`, done: true, error: { error_code: 'INVALID_STATE', message: op.error } });
      this.projects.set(op.project.id, op.project);
      return send(200, { name: `operations/${id}`, done: true, response: op.project });
    }
    if (collection === 'projects' && method === 'GET' && !id) {
      const all = [...this.projects.values()].filter((p) => !url.searchParams.get('name') || p.name === url.searchParams.get('name'));
      const from = Number(url.searchParams.get('page_token') ?? 0);
      const size = Number(url.searchParams.get('page_size') ?? 100);
      const next = from + size < all.length ? String(from + size) : undefined;
      return send(200, { projects: all.slice(from, from + size), ...(next ? { next_page_token: next } : {}) });
    }
    const project = id ? this.projects.get(id) : undefined;
    if (collection === 'projects' && method === 'GET') return project ? send(200, project) : notFound(`project ${id}`);
    if (collection === 'projects' && method === 'DELETE') {
      if (!project) return notFound(`project ${id}`);
      this.projects.delete(project.id);
      return send(200, {});
    }
    return send(405, { error_code: 'BAD_REQUEST', message: 'no such route' });
  }
}

/** What tests change between runs: a fake clock, and a hook that can "kill" the handler mid-poll. */
export const operationTesting: {
  clock?: OperationClock;
  /** Called before each poll; throwing from it is a handler killed while polling. */
  beforePoll?: (operation: string) => void;
} = {};

/** A clock whose sleeps only move its time (and yield, so the event loop turns). */
export class FakeClock implements OperationClock {
  time = 0;
  readonly sleeps: number[] = [];
  /** Real milliseconds each sleep takes, for tests that need a real deadline to pass. */
  constructor(private readonly realMsPerSleep = 0) {}
  now(): number {
    return this.time;
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.time += ms;
    await new Promise((resolve) => setTimeout(resolve, this.realMsPerSleep));
  }
  /** No jitter: every wait is the full backoff. */
  random(): number {
    return 1;
  }
}

const schema = z.object({ endpoint: z.url(), name: z.string().min(1), size: z.number().int().min(1) }).strict();
type Props = z.infer<typeof schema>;
type Outputs = { id: string; name: string; size: number };

const api = (props: Props, ctx: HandlerContext) => new JsonApi({ service: 'TestOps', baseUrl: props.endpoint, signal: ctx.signal, log: (l) => ctx.log(l) });
const created = (p: Project) => ({ physicalId: p.id, outputs: { id: p.id, name: p.name, size: p.size } });

function pollOptions(props: Props, ctx: HandlerContext) {
  const client = api(props, ctx);
  return {
    what: `project ${props.name} to be created`,
    poll: (id: string, signal: AbortSignal) => {
      operationTesting.beforePoll?.(id);
      return client.call<LongRunningOperation<Project>>('GET', `/${id}`, { signal });
    },
    clock: operationTesting.clock,
  };
}

export const operationProjectType = defineResourceType<Props, Outputs>({
  name: 'test:op-project',
  module: __filename,
  schema,
  attributes: ['id', 'name', 'size'],
  immutable: ['*'],
  replaceOrder: 'delete-before-create',
  defaultRemovalPolicy: 'destroy',

  async create(props, ctx) {
    const client = api(props, ctx);
    const op = await awaitOperation(
      { ...pollOptions(props, ctx), start: (signal) => client.call<LongRunningOperation<Project>>('POST', '/projects', { body: { name: props.name, size: props.size }, signal }) },
      ctx,
    );
    return created(op.response as Project);
  },
  async read(id, props, ctx) {
    try {
      return { outputs: created(await api(props, ctx).call<Project>('GET', `/projects/${id}`)).outputs };
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  },
  async delete(id, props, ctx) {
    await api(props, ctx).call('DELETE', `/projects/${id}`).catch((err) => {
      if (!(err instanceof NotFoundError)) throw err;
    });
  },
  /** The operation an interrupted create started, else a project of that name. */
  async adopt(props, ctx) {
    const op = await resumeOperation(pollOptions(props, ctx), ctx);
    if (op) return created(op.response as Project);
    const [found] = await api(props, ctx).listAll<Project>('/projects', {
      query: { name: props.name, page_size: 1 },
      items: 'projects',
      cursorField: 'next_page_token',
      cursorParam: 'page_token',
    });
    return found && created(found);
  },
});

export function projectSpec(id: string, props: Props): ResourceSpec {
  return { type: 'test:op-project', stack: 'test', id, props, removalPolicy: 'destroy', allowReplacement: false, aliases: [] };
}

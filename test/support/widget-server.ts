/**
 * A tiny HTTP API for the test-only resource types: collections of widgets that count every call,
 * so tests can assert "zero write calls" and "exactly one remote object".
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';

export interface Thing {
  id: string;
  name: string;
  size: number;
  color?: string;
  label?: string;
  apiKey: string;
}

export interface Call {
  method: string;
  path: string;
}

export class WidgetServer {
  readonly calls: Call[] = [];
  /** `kind` -> id -> thing. Names are unique within `widgets`, not within other kinds. */
  readonly things = new Map<string, Map<string, Thing>>();
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  requiredToken?: string;
  /** The next create answers normally, then tells the test handler to kill itself. */
  crashAfterNextCreate = false;
  private server?: http.Server;
  private nextId = 1;

  get url(): string {
    const { port } = this.server?.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  list(kind = 'widgets'): Thing[] {
    return [...(this.things.get(kind)?.values() ?? [])];
  }

  /** Write calls (POST, PATCH, DELETE) since the last reset, optionally of one method. */
  writes(method?: string): number {
    return this.calls.filter((c) => c.method !== 'GET' && (!method || c.method === method)).length;
  }

  resetCalls(): void {
    this.calls.length = 0;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    this.calls.push({ method, path: url.pathname });
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    if (this.requiredToken && req.headers.authorization !== `Bearer ${this.requiredToken}`) {
      // Echoes what it got, as careless APIs do, so tests can check that pgstacks masks it.
      return send(401, { error: `bad token: ${req.headers.authorization ?? 'none'}` });
    }
    const [kind, id] = url.pathname.split('/').filter(Boolean);
    if (!kind) return send(404, { error: 'no such route' });
    const things = this.things.get(kind) ?? new Map<string, Thing>();
    this.things.set(kind, things);
    const body = method === 'POST' || method === 'PATCH' ? await readJson(req) : {};

    if (method === 'POST' && !id) {
      const name = String(body.name);
      if (kind === 'widgets' && [...things.values()].some((t) => t.name === name)) {
        return send(409, { error: `a widget named ${name} exists` });
      }
      const thing: Thing = { id: `${kind.slice(0, 1)}-${this.nextId++}`, name, size: Number(body.size), apiKey: randomUUID() };
      if (body.color) thing.color = String(body.color);
      if (body.label) thing.label = String(body.label);
      things.set(thing.id, thing);
      const crash = this.crashAfterNextCreate;
      this.crashAfterNextCreate = false;
      return send(201, thing, crash ? { 'x-test-crash-after-create': '1' } : {});
    }
    if (method === 'GET' && !id) {
      const name = url.searchParams.get('name');
      return send(200, { items: [...things.values()].filter((t) => !name || t.name === name) });
    }
    const thing = id ? things.get(id) : undefined;
    if (!thing) return send(404, { error: `no ${kind} ${id}` });
    if (method === 'GET') return send(200, thing);
    if (method === 'PATCH') {
      if (body.size !== undefined) thing.size = Number(body.size);
      for (const key of ['color', 'label'] as const) {
        if (key in body) {
          if (body[key] === null) delete thing[key];
          else thing[key] = String(body[key]);
        }
      }
      return send(200, thing);
    }
    if (method === 'DELETE') {
      things.delete(thing.id);
      return send(204);
    }
    return send(405, { error: 'method not allowed' });
  }
}

async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
}

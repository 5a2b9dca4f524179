/** Helpers for the Databricks emulator's tests: raw calls to the Lakebase API as a workspace identity. */
import { Client, type ClientConfig } from 'pg';
import { request } from 'undici';
import type { Sandbox } from '../../src/sandbox';

export interface Answer {
  readonly status: number;
  readonly body: any;
}

/** An OAuth access token for a service principal (the default one unless given). */
export async function oauthToken(sandbox: Sandbox, clientId = sandbox.databricks.defaultClient.clientId, clientSecret = sandbox.databricks.defaultClient.clientSecret): Promise<string> {
  const res = await request(`${sandbox.databricks.host}/oidc/v1/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` },
    body: 'grant_type=client_credentials&scope=all-apis',
  });
  const body = (await res.body.json()) as { access_token?: string };
  if (res.statusCode !== 200 || !body.access_token) throw new Error(`token: ${res.statusCode} ${JSON.stringify(body)}`);
  return body.access_token;
}

/** Calls `/api/2.0/postgres/...` with a Bearer token, as the SDKs do. */
export class Workspace {
  constructor(
    readonly sandbox: Sandbox,
    readonly token: string,
  ) {}

  static async oauth(sandbox: Sandbox): Promise<Workspace> {
    return new Workspace(sandbox, await oauthToken(sandbox));
  }

  async call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, options: { body?: unknown; query?: Record<string, string | number | boolean> } = {}): Promise<Answer> {
    const query = options.query ? `?${new URLSearchParams(Object.entries(options.query).map(([k, v]): [string, string] => [k, String(v)])).toString()}` : '';
    const res = await request(`${this.sandbox.databricks.host}/api/2.0/postgres/${path}${query}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, accept: 'application/json', ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: text ? JSON.parse(text) : undefined };
  }

  get(name: string): Promise<Answer> {
    return this.call('GET', name);
  }

  /** Polls an operation until it is done (the tests' clocks make that the first poll or say when). */
  async wait(operation: Answer): Promise<any> {
    if (operation.status !== 200) throw new Error(`operation not started: ${operation.status} ${JSON.stringify(operation.body)}`);
    for (let i = 0; i < 50; i++) {
      const polled = await this.get(operation.body.name);
      if (polled.status !== 200) throw new Error(`poll: ${polled.status} ${JSON.stringify(polled.body)}`);
      if (polled.body.done) {
        if (polled.body.error) throw new Error(`operation failed: [${polled.body.error.error_code}] ${polled.body.error.message}`);
        return polled.body.response;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    throw new Error(`operation ${operation.body.name} is not done; advance the clock`);
  }

  /** POSTs `body` to `<parent>/<collection>?<idName>=<id>` and waits for the operation. */
  async create(collection: string, idName: string, id: string, body: unknown, query: Record<string, string | boolean> = {}): Promise<any> {
    return this.wait(await this.call('POST', collection, { body, query: { [idName]: id, ...query } }));
  }

  async createProject(id: string, spec: Record<string, unknown> = {}): Promise<any> {
    return this.create('projects', 'project_id', id, { spec });
  }

  async createBranch(project: string, id: string, spec: Record<string, unknown> = { no_expiry: true }): Promise<any> {
    return this.create(`projects/${project}/branches`, 'branch_id', id, { spec });
  }

  async update(name: string, body: unknown, mask: string): Promise<any> {
    return this.wait(await this.call('PATCH', name, { body, query: { update_mask: mask } }));
  }

  async delete(name: string, query: Record<string, string | boolean> = {}): Promise<any> {
    return this.wait(await this.call('DELETE', name, { query }));
  }

  /** A database credential for the caller on an endpoint. */
  async credential(endpoint: string, extra: Record<string, unknown> = {}): Promise<{ token: string; expire_time: string }> {
    const res = await this.call('POST', 'credentials', { body: { endpoint, ...extra } });
    if (res.status !== 200) throw new Error(`credential: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }
}

/** Connects to an endpoint as Lakebase clients do: its host, port 5432, a credential as password. */
export async function connectToEndpoint(
  workspace: Workspace,
  endpoint: string,
  options: { user?: string; database?: string; ssl?: ClientConfig['ssl']; password?: string } = {},
): Promise<Client> {
  const found = await workspace.get(endpoint);
  if (found.status !== 200) throw new Error(`endpoint: ${found.status} ${JSON.stringify(found.body)}`);
  const password = options.password ?? (await workspace.credential(endpoint)).token;
  const client = new Client({
    host: found.body.status.hosts.host,
    port: workspace.sandbox.databricks.endpointPort,
    user: options.user ?? workspace.sandbox.databricks.defaultClient.clientId,
    password,
    database: options.database ?? 'databricks_postgres',
    ssl: options.ssl ?? false,
    connectionTimeoutMillis: 20_000,
  });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** The SQLSTATE (or message) a promise rejects with; undefined if it resolves. */
export async function failure(work: Promise<unknown>): Promise<string | undefined> {
  try {
    await work;
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

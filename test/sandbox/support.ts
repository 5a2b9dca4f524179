/** Helpers for the sandbox tests: raw HTTP calls to the emulators and Postgres logins. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { Client } from 'pg';
import { request } from 'undici';
import type { Sandbox } from '../../src/sandbox';

export interface Response {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: any;
}

export function tempDataDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `pgstacks-${name}-`));
}

export async function http(
  method: 'GET' | 'POST',
  url: string,
  options: { body?: unknown; token?: string; form?: Record<string, string>; headers?: Record<string, string>; gzip?: boolean } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | Buffer | undefined;
  if (options.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(options.form).toString();
  } else if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
    if (options.gzip) {
      body = gzipSync(body);
      headers['content-encoding'] = 'gzip';
    }
  }
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const res = await request(url, { method, headers, body });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

export async function tokenFor(sandbox: Sandbox, clientId = sandbox.cognite.defaultClient.clientId, clientSecret = sandbox.cognite.defaultClient.clientSecret): Promise<string> {
  const res = await http('POST', sandbox.cognite.tokenUrl, {
    form: { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: `${sandbox.cognite.baseUrl}/.default` },
  });
  if (res.status !== 200) throw new Error(`token: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.access_token as string;
}

/** Calls CDF paths below `/api/v1/projects/{project}` as one client. */
export class Cdf {
  constructor(
    readonly sandbox: Sandbox,
    readonly token: string,
    readonly project = 'acme',
  ) {}

  url(path: string): string {
    return `${this.sandbox.cognite.baseUrl}/api/v1/projects/${this.project}${path}`;
  }

  get(path: string): Promise<Response> {
    return http('GET', this.url(path), { token: this.token });
  }

  post(path: string, body: unknown, options: { gzip?: boolean } = {}): Promise<Response> {
    return http('POST', this.url(path), { token: this.token, body, ...options });
  }

  async nonce(): Promise<string> {
    const res = await this.post('/sessions', { items: [{ tokenExchange: true }] });
    if (res.status !== 200) throw new Error(`session: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.items[0].nonce as string;
  }

  /** Creates a gateway user; returns the create item (with password and port). */
  async createUser(): Promise<{ username: string; password: string; host: string; port: number; sessionId: number; createdTime: number; lastUpdatedTime: number }> {
    const res = await this.post('/postgresgateway', { items: [{ credentials: { nonce: await this.nonce() } }] });
    if (res.status !== 200) throw new Error(`create user: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.items[0];
  }
}

/** Connects as a gateway user (or anyone) to `database` (default: the user's own). */
export async function connect(sandbox: Sandbox, user: string, password: string, database = user): Promise<Client> {
  const client = new Client({ host: sandbox.postgres.host, port: sandbox.postgres.port, user, password, database });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** The SQLSTATE of a failed connect or query. */
/** The gateway databases the Cognite emulator has made ahead of time (named after future users), by name. */
export function spareDatabases(sandbox: Sandbox): Promise<string[]> {
  return asSuperuser(sandbox, 'pgstacks_sandbox', async (c) => {
    const found = await c.query('SELECT s.name FROM cognite.spare_databases s JOIN pg_database d ON d.datname = s.name ORDER BY s.name');
    return found.rows.map((r) => r.name as string);
  });
}

/**
 * The spare databases a user create would take now: listed, and with the sandbox's connection
 * open and idle. (A spare is listed before it is made, so that a restart can drop a half-made
 * one; it is ready only once the sandbox has connected to it.)
 */
export function readySpareDatabases(sandbox: Sandbox): Promise<string[]> {
  return asSuperuser(sandbox, 'pgstacks_sandbox', async (c) => {
    const found = await c.query(
      `SELECT s.name FROM cognite.spare_databases s
        WHERE EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = s.name AND a.state = 'idle') ORDER BY s.name`,
    );
    return found.rows.map((r) => r.name as string);
  });
}

export async function sqlState(work: Promise<unknown>): Promise<string | undefined> {
  try {
    await work;
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

export async function asSuperuser<T>(sandbox: Sandbox, database: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const { host, port, user, password } = sandbox.postgres;
  const client = new Client({ host, port, user, password, database });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

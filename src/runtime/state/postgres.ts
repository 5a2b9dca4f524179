/**
 * The team state backend: PostgreSQL, for pipelines whose runners keep nothing between runs. It
 * can share a database with Terraform's `pg` backend (schema `terraform_remote_state`); it only
 * ever touches its own schema.
 *
 * One row per stack and logical id, the record as jsonb. Writes are row-level upserts, so
 * concurrent handlers never conflict on different resources. The stack lock is a session-level
 * advisory lock, which holds across machines and is freed by the server when the holder's
 * connection dies.
 *
 * The lock needs a real session: connect directly or through a pooler in session mode (not
 * PgBouncer's transaction mode).
 */
import { createHash } from 'node:crypto';
import * as os from 'node:os';
import { Pool, type PoolClient } from 'pg';
import { parseRecord } from './records';
import type { LockOptions, ResourceRecord, StackMeta, StateStore } from './store';

export const DEFAULT_STATE_SCHEMA = 'pgstacks';
const TABLE = 'records';
const META_TABLE = 'stacks';

export interface PostgresStateStoreOptions {
  /** `postgres://user:password@host:port/database`; the password never appears in messages. */
  readonly connectionString: string;
  /** The schema that holds the records table; created on first use. Default `pgstacks`. */
  readonly schema?: string;
  /** How long `withLock` waits for another holder before giving up. Default 10 minutes. */
  readonly lockTimeoutMs?: number;
  /** How often `withLock` reports that it is still waiting. Default 10 s. */
  readonly lockNoticeIntervalMs?: number;
  /** How often `withLock` retries the lock while waiting. Default 500 ms. */
  readonly lockPollIntervalMs?: number;
  /** Called while waiting for the stack lock, with who holds it. */
  readonly onWait?: (message: string) => void;
  /** Connections in the pool (at least 2: `withLock` keeps one). Default 4. */
  readonly maxConnections?: number;
}

/** `withLock` gave up waiting; the message names the stack, the holder and how to find it. */
export class StateLockTimeoutError extends Error {
  constructor(
    message: string,
    readonly stackName: string,
  ) {
    super(message);
    this.name = 'StateLockTimeoutError';
  }
}

/** A {@link StateStore} in a PostgreSQL database (table `<schema>.records`). */
export class PostgresStateStore implements StateStore {
  readonly description: string;
  readonly schema: string;
  private readonly pool: Pool;
  private readonly table: string;
  private readonly metaTable: string;
  private ready: Promise<void> | undefined;

  constructor(private readonly options: PostgresStateStoreOptions) {
    this.schema = options.schema ?? DEFAULT_STATE_SCHEMA;
    checkSchemaName(this.schema);
    // The schema name is checked to be a plain lowercase identifier, so it needs no quoting.
    this.table = `${this.schema}.${TABLE}`;
    this.metaTable = `${this.schema}.${META_TABLE}`;
    this.description = `PostgreSQL state table ${this.table} at ${maskConnectionString(options.connectionString)}`;
    this.pool = new Pool({
      connectionString: options.connectionString,
      max: Math.max(2, options.maxConnections ?? 4),
      idleTimeoutMillis: 10_000,
      // Lets a waiting run name who holds a lock; a connection string's application_name wins.
      application_name: `pgstacks@${os.hostname()}/${process.pid}`.slice(0, 63),
      keepAlive: true,
    });
    // An idle connection that drops (server restart) must not crash the process.
    this.pool.on('error', () => undefined);
  }

  async get(stack: string, id: string): Promise<ResourceRecord | undefined> {
    const { rows } = await this.query<{ record: unknown }>(`SELECT record FROM ${this.table} WHERE stack = $1 AND id = $2`, [stack, id]);
    return rows.length ? this.parse(stack, id, rows[0].record) : undefined;
  }

  async put(record: ResourceRecord): Promise<void> {
    await this.query(
      `INSERT INTO ${this.table} (stack, id, record, updated_at) VALUES ($1, $2, $3::jsonb, now())
       ON CONFLICT (stack, id) DO UPDATE SET record = EXCLUDED.record, updated_at = EXCLUDED.updated_at`,
      // Stringified: node-postgres would send a JS array as a Postgres array, not JSON.
      [record.stack, record.id, JSON.stringify(record)],
    );
  }

  async remove(stack: string, id: string): Promise<void> {
    await this.query(`DELETE FROM ${this.table} WHERE stack = $1 AND id = $2`, [stack, id]);
  }

  async list(stack: string): Promise<ResourceRecord[]> {
    const { rows } = await this.query<{ id: string; record: unknown }>(`SELECT id, record FROM ${this.table} WHERE stack = $1`, [stack]);
    // Sorted in JS, as the local store does, so both list in the same order.
    return rows.map((row) => this.parse(stack, row.id, row.record)).sort((a, b) => a.id.localeCompare(b.id));
  }

  async getMeta(stack: string): Promise<StackMeta | undefined> {
    const { rows } = await this.query<{ meta: StackMeta }>(`SELECT meta FROM ${this.metaTable} WHERE stack = $1`, [stack]);
    return rows[0]?.meta;
  }

  async putMeta(stack: string, meta: StackMeta): Promise<void> {
    await this.query(
      `INSERT INTO ${this.metaTable} (stack, meta, updated_at) VALUES ($1, $2::jsonb, now())
       ON CONFLICT (stack) DO UPDATE SET meta = EXCLUDED.meta, updated_at = EXCLUDED.updated_at`,
      [stack, JSON.stringify(meta)],
    );
  }

  async stacks(): Promise<string[]> {
    const { rows } = await this.query<{ stack: string }>(`SELECT DISTINCT stack FROM ${this.table}`);
    return rows.map((row) => row.stack).sort();
  }

  /**
   * Runs `fn` holding the stack's advisory lock on a connection of its own. Not reentrant: a
   * nested `withLock` on the same stack waits for itself until the timeout.
   */
  async withLock<T>(stack: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
    await this.ensureSchema();
    const key = lockKey(this.schema, stack);
    const client = await this.wrap(this.pool.connect());
    client.on('error', () => undefined); // reported by the next query on it, if any
    try {
      await this.acquire(client, stack, key, options.onWait ?? this.options.onWait);
      try {
        return await fn();
      } finally {
        await client.query('SELECT pg_advisory_unlock($1::bigint)', [key]).catch(() => undefined);
      }
    } finally {
      // Closed rather than pooled: whatever happened above, no lock can outlive this call.
      client.release(true);
    }
  }

  /** Ends the pool's connections. */
  async close(): Promise<void> {
    await this.pool.end();
  }

  private async acquire(client: PoolClient, stack: string, key: string, onWait: ((message: string) => void) | undefined): Promise<void> {
    const timeoutMs = this.options.lockTimeoutMs ?? 10 * 60_000;
    const noticeMs = this.options.lockNoticeIntervalMs ?? 10_000;
    const pollMs = this.options.lockPollIntervalMs ?? 500;
    // The holder sits idle while its fn runs: make sure the server neither times the session out
    // nor keeps a vanished runner's lock for hours (the default TCP keepalive is 2 h).
    // (Only settings this server has: idle_session_timeout is new in PostgreSQL 14.)
    await this.wrap(
      client.query(
        `SELECT set_config(name, value, false) FROM (VALUES ('idle_session_timeout', '0'), ('tcp_keepalives_idle', '60'),
           ('tcp_keepalives_interval', '10'), ('tcp_keepalives_count', '6')) AS wanted (name, value)
          WHERE name IN (SELECT name FROM pg_settings)`,
      ),
    );
    const started = Date.now();
    let nextNotice = started + noticeMs;
    for (;;) {
      const { rows } = await this.wrap(client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key]));
      if (rows[0].ok) return;
      const waited = Date.now() - started;
      if (waited >= timeoutMs) {
        const holder = await this.holder(client, key);
        throw new StateLockTimeoutError(
          `gave up after ${seconds(waited)} waiting for the lock on stack '${stack}' in the ${this.description}: ` +
            `${holder ? `it is held by ${holder}` : 'its holder could not be identified (it may have just let go)'}. ` +
            `Another pgstacks run (prune or state rm) is probably working on the stack; let it finish and retry. ` +
            `To find the holder: ${holderQuery(key)}; if that session is left over from a run that is gone, ` +
            `end it with SELECT pg_terminate_backend(<pid>).`,
          stack,
        );
      }
      if (onWait && Date.now() >= nextNotice) {
        const holder = await this.holder(client, key);
        onWait(
          `waiting for the lock on stack '${stack}' in the ${this.description}: held by ${holder ?? 'another session'} ` +
            `(waited ${seconds(waited)}, giving up after ${seconds(timeoutMs)})`,
        );
        nextNotice = Date.now() + noticeMs;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, Math.max(1, timeoutMs - waited))));
    }
  }

  /** Who holds the advisory lock `key`, from pg_locks and pg_stat_activity (best effort). */
  private async holder(client: PoolClient, key: string): Promise<string | undefined> {
    try {
      const { rows } = await client.query<{ pid: number; application_name: string | null; usename: string | null; client_addr: string | null; backend_start: Date | null }>(
        `SELECT l.pid, a.application_name, a.usename, a.client_addr::text AS client_addr, a.backend_start
           FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE ${lockCondition(key)} AND l.granted AND l.pid <> pg_backend_pid()`,
      );
      if (!rows.length) return undefined;
      const { pid, application_name: app, usename: user, client_addr: from, backend_start: since } = rows[0];
      const details = [
        app ? `application '${app}'` : undefined,
        user ? `user ${user}` : undefined,
        from ? `from ${from}` : undefined,
        since ? `connected since ${since.toISOString()}` : undefined,
      ].filter(Boolean);
      return `pid ${pid}${details.length ? ` (${details.join(', ')})` : ''}`;
    } catch {
      return undefined;
    }
  }

  private parse(stack: string, id: string, raw: unknown): ResourceRecord {
    return parseRecord(raw, { stack, id, location: `table ${this.table} row (${sqlLiteral(stack)}, ${sqlLiteral(id)})` });
  }

  private async query<R extends object = Record<string, unknown>>(sql: string, params: unknown[] = []) {
    await this.ensureSchema();
    return this.wrap(this.pool.query<R>(sql, params));
  }

  /**
   * Creates the schema and table on first use. Skipped when they exist, so a role without CREATE
   * on the database can use a schema an administrator made; two runs starting at once are
   * serialized by a transaction-level advisory lock (concurrent CREATE SCHEMA IF NOT EXISTS can
   * still fail on a unique violation).
   */
  private ensureSchema(): Promise<void> {
    this.ready ??= this.createSchema().catch((err: unknown) => {
      this.ready = undefined; // let the next call retry
      throw err;
    });
    return this.ready;
  }

  private async createSchema(): Promise<void> {
    const exists = async (c: Pick<Pool, 'query'>) =>
      (await c.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL AS ok', [this.table, this.metaTable])).rows[0].ok;
    if (await this.wrap(exists(this.pool))) return;
    const client = await this.wrap(this.pool.connect());
    try {
      await this.wrap(
        (async () => {
          await client.query('BEGIN');
          await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey(this.schema, '', 'ddl')]);
          if (!(await exists(client))) {
            await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
            await client.query(
              `CREATE TABLE IF NOT EXISTS ${this.table} (
                 stack text NOT NULL,
                 id text NOT NULL,
                 record jsonb NOT NULL,
                 updated_at timestamptz NOT NULL DEFAULT now(),
                 PRIMARY KEY (stack, id)
               )`,
            );
            await client.query(`COMMENT ON TABLE ${this.table} IS 'pgstacks state: one record per stack and logical id'`);
            await client.query(
              `CREATE TABLE IF NOT EXISTS ${this.metaTable} (
                 stack text PRIMARY KEY,
                 meta jsonb NOT NULL,
                 updated_at timestamptz NOT NULL DEFAULT now()
               )`,
            );
          }
          await client.query('COMMIT');
        })(),
      );
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** Says which store failed; node-postgres' own messages never contain the password. */
  private async wrap<T>(work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (err) {
      throw new Error(`${this.description}: ${(err as Error).message}`, { cause: err });
    }
  }
}

/**
 * The connection string without its password (and without query parameters, which may hold
 * one): `postgres://user:***@host:port/db`.
 */
export function maskConnectionString(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    const user = url.username ? `${url.username}${url.password || url.searchParams.has('password') ? ':***' : ''}@` : '';
    return `${url.protocol}//${user}${url.host}${url.pathname}`;
  } catch {
    // Not a URL (e.g. a socket path with options): mask anything that looks like a password.
    return connectionString.replace(/(password\s*=\s*)(\S+)/gi, '$1***').replace(/:[^:@/]*@/, ':***@');
  }
}

/**
 * The 64-bit advisory lock key of a stack (or of the schema's DDL), as a decimal string. Hashed
 * with the schema so two pgstacks schemas in one database do not share locks; Terraform's pg
 * backend locks small integers (state row ids), which a hash hits with negligible probability.
 */
export function lockKey(schema: string, stack: string, purpose = 'stack'): string {
  const digest = createHash('sha256').update(`pgstacks\0${purpose}\0${schema}\0${stack}`).digest();
  return digest.readBigInt64BE(0).toString();
}

/** pg_locks shows a bigint advisory key as classid (high 32 bits) and objid (low 32 bits). */
function lockCondition(key: string): string {
  const unsigned = BigInt.asUintN(64, BigInt(key));
  return (
    `l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) ` +
    `AND l.classid = ${unsigned >> 32n} AND l.objid = ${unsigned & 0xffffffffn} AND l.objsubid = 1`
  );
}

function holderQuery(key: string): string {
  return (
    `SELECT l.pid, a.application_name, a.usename, a.client_addr, a.backend_start FROM pg_locks l ` +
    `LEFT JOIN pg_stat_activity a ON a.pid = l.pid WHERE ${lockCondition(key)} AND l.granted`
  );
}

function checkSchemaName(schema: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema) || schema.startsWith('pg_') || schema === 'information_schema') {
    throw new Error(`state schema '${schema}' must be a lowercase SQL identifier (letters, digits, _), not a system schema`);
  }
  if (schema === 'terraform_remote_state') {
    throw new Error(`state schema '${schema}' is Terraform's pg backend's; use a schema of pgstacks' own (default '${DEFAULT_STATE_SCHEMA}')`);
  }
}

const sqlLiteral = (value: string) => `'${value.replace(/'/g, "''")}'`;
const seconds = (ms: number) => (ms >= 60_000 && ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 100) / 10} s`);

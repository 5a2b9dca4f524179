/**
 * The Databricks emulator's persistent state, in schema `databricks` of the sandbox's state
 * database: identities and tokens, the Lakebase resources (one row each, the record as JSON, in
 * creation order), operations, and issued database credentials. A restart with the same data
 * directory finds them all again.
 */
import type { Pool } from 'pg';
import type { Kind, LakebaseRecord, RecordOf } from './model';

export async function migrate(db: Pool): Promise<void> {
  await db.query(`
    CREATE SCHEMA IF NOT EXISTS databricks;
    CREATE TABLE IF NOT EXISTS databricks.settings (
      name  text PRIMARY KEY,
      value text NOT NULL
    );
    -- Service principals (id = application id, with an OAuth secret) and users (id = email).
    CREATE TABLE IF NOT EXISTS databricks.identities (
      id         text PRIMARY KEY,
      kind       text NOT NULL,
      secret     text,
      is_default boolean NOT NULL DEFAULT false
    );
    -- Personal access tokens.
    CREATE TABLE IF NOT EXISTS databricks.tokens (
      token      text PRIMARY KEY,
      identity   text NOT NULL REFERENCES databricks.identities ON DELETE CASCADE,
      is_default boolean NOT NULL DEFAULT false
    );
    CREATE TABLE IF NOT EXISTS databricks.resources (
      name   text PRIMARY KEY,
      kind   text NOT NULL,
      parent text,
      seq    bigserial NOT NULL,
      data   jsonb NOT NULL
    );
    CREATE INDEX IF NOT EXISTS resources_by_parent ON databricks.resources (kind, parent, seq);
    CREATE TABLE IF NOT EXISTS databricks.operations (
      name       text PRIMARY KEY,
      kind       text NOT NULL,
      action     text NOT NULL,
      resource   text NOT NULL,
      branch     text,
      created_at bigint NOT NULL,
      delay_ms   bigint NOT NULL DEFAULT 0,
      snapshot   jsonb,
      error      jsonb
    );
    -- Early versions kept a finish time; an operation's kind and start now say when it finishes.
    ALTER TABLE databricks.operations DROP COLUMN IF EXISTS ready_at;
    ALTER TABLE databricks.operations ADD COLUMN IF NOT EXISTS delay_ms bigint NOT NULL DEFAULT 0;
    ALTER TABLE databricks.operations ADD COLUMN IF NOT EXISTS mark text NOT NULL DEFAULT '';
    CREATE INDEX IF NOT EXISTS operations_by_branch ON databricks.operations (branch, created_at);
    -- The latest database credential per branch cluster and Postgres role: its expiry, on the emulator's clock.
    CREATE TABLE IF NOT EXISTS databricks.credentials (
      cluster       text NOT NULL,
      postgres_role text NOT NULL,
      expires_at    bigint NOT NULL,
      PRIMARY KEY (cluster, postgres_role)
    );
  `);
}

/** A record with its position in creation order, for paging. */
export interface Stored<R> {
  readonly seq: number;
  readonly record: R;
}

/** The resources table: get, put, list by parent in creation order, delete a subtree. */
export class ResourceStore {
  constructor(private readonly db: Pool) {}

  async get<K extends Kind>(kind: K, name: string): Promise<RecordOf<K> | undefined> {
    const found = await this.db.query('SELECT data FROM databricks.resources WHERE name = $1 AND kind = $2', [name, kind]);
    return found.rows[0]?.data as RecordOf<K> | undefined;
  }

  /** Inserts or replaces the record under its name. */
  async put(record: LakebaseRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO databricks.resources (name, kind, parent, data) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO UPDATE SET data = EXCLUDED.data`,
      [record.name, record.kind, record.parent ?? null, JSON.stringify(record)],
    );
  }

  /** The records of a kind (under `parent`, if given), in creation order, after `afterSeq`, at most `limit`. */
  async list<K extends Kind>(kind: K, parent?: string, afterSeq = 0, limit = 1_000_000): Promise<Array<Stored<RecordOf<K>>>> {
    const found = await this.db.query(
      `SELECT seq, data FROM databricks.resources
       WHERE kind = $1 AND ($2::text IS NULL OR parent = $2) AND seq > $3 ORDER BY seq LIMIT $4`,
      [kind, parent ?? null, afterSeq, limit],
    );
    return found.rows.map((row: { seq: string; data: RecordOf<K> }) => ({ seq: Number(row.seq), record: row.data }));
  }

  /** Every record of a kind, in creation order. */
  async all<K extends Kind>(kind: K, parent?: string): Promise<Array<RecordOf<K>>> {
    return (await this.list(kind, parent)).map((s) => s.record);
  }

  async delete(name: string): Promise<void> {
    await this.db.query('DELETE FROM databricks.resources WHERE name = $1', [name]);
  }

  /** Deletes a resource and everything named below it (`projects/p` takes `projects/p/branches/…`). */
  async deleteTree(name: string): Promise<void> {
    await this.db.query("DELETE FROM databricks.resources WHERE name = $1 OR starts_with(name, $1 || '/')", [name]);
  }

  /** Projects and branches due for purging, and branches past their expiry, at `now`. */
  async due(now: number): Promise<Array<RecordOf<'project' | 'branch'>>> {
    const found = await this.db.query(
      `SELECT data FROM databricks.resources WHERE kind IN ('project', 'branch') AND (
         (data->>'purgeTime')::bigint <= $1
         OR (kind = 'branch' AND data->>'deleteTime' IS NULL AND (data->>'expireTime')::bigint <= $1))
       ORDER BY seq`,
      [now],
    );
    return found.rows.map((row: { data: RecordOf<'project' | 'branch'> }) => row.data);
  }
}

export async function getSetting(db: Pool, name: string): Promise<string | undefined> {
  const found = await db.query('SELECT value FROM databricks.settings WHERE name = $1', [name]);
  return found.rows[0]?.value as string | undefined;
}

/** Stores `value` unless the setting exists; returns the setting's value either way. */
export async function initSetting(db: Pool, name: string, value: string): Promise<string> {
  await db.query('INSERT INTO databricks.settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, value]);
  return (await getSetting(db, name))!;
}

/**
 * The Cognite emulator's persistent state, in schema `cognite` of the sandbox's state database, so
 * a restart with the same data directory shows the same clients, sessions, users and tables. RAW
 * rows live beside it, in schema `cognite_raw` (raw-store.ts).
 */
import type { Pool } from 'pg';

/** Session ids look like CDF's: large integers (2^52 and up) that still fit a JS number. */
export const FIRST_SESSION_ID = 4503599627370496;

export async function migrate(db: Pool): Promise<void> {
  await db.query(`
    CREATE SCHEMA IF NOT EXISTS cognite;
    CREATE TABLE IF NOT EXISTS cognite.clients (
      client_id     text PRIMARY KEY,
      client_secret text NOT NULL,
      capabilities  json NOT NULL,
      is_default    boolean NOT NULL DEFAULT false,
      group_id      bigint NOT NULL
    );
    -- The emulator's own settings, e.g. the RAW bridge's password and the port gateway databases reach RAW on.
    CREATE TABLE IF NOT EXISTS cognite.settings (
      name  text PRIMARY KEY,
      value text NOT NULL
    );
    CREATE SEQUENCE IF NOT EXISTS cognite.session_ids START WITH ${FIRST_SESSION_ID};
    CREATE TABLE IF NOT EXISTS cognite.sessions (
      id              bigint PRIMARY KEY DEFAULT nextval('cognite.session_ids'),
      project         text NOT NULL,
      type            text NOT NULL,
      status          text NOT NULL,
      client_id       text NOT NULL,
      nonce           text NOT NULL UNIQUE,
      nonce_expires   bigint NOT NULL,
      nonce_used      boolean NOT NULL DEFAULT false,
      creation_time   bigint NOT NULL,
      expiration_time bigint NOT NULL
    );
    CREATE TABLE IF NOT EXISTS cognite.gateway_users (
      username          text PRIMARY KEY,
      project           text NOT NULL,
      session_id        bigint NOT NULL,
      created_time      bigint NOT NULL,
      last_updated_time bigint NOT NULL
    );
    -- options and columns are json, not jsonb: json keeps the caller's key order (column order).
    CREATE TABLE IF NOT EXISTS cognite.gateway_tables (
      username     text NOT NULL REFERENCES cognite.gateway_users ON DELETE CASCADE,
      tablename    text NOT NULL,
      type         text NOT NULL,
      options      json NOT NULL,
      columns      json NOT NULL,
      created_time bigint NOT NULL,
      raw_database text,
      raw_table    text,
      PRIMARY KEY (username, tablename)
    );
    -- Gateway databases made ahead of time (userdb.ts), named after users that do not exist yet.
    CREATE TABLE IF NOT EXISTS cognite.spare_databases (
      name text PRIMARY KEY
    );
    CREATE TABLE IF NOT EXISTS cognite.raw_dbs (
      project      text NOT NULL,
      name         text NOT NULL,
      created_time bigint NOT NULL,
      PRIMARY KEY (project, name)
    );
    CREATE TABLE IF NOT EXISTS cognite.raw_tables (
      project      text NOT NULL,
      db           text NOT NULL,
      name         text NOT NULL,
      created_time bigint NOT NULL,
      PRIMARY KEY (project, db, name)
    );
  `);
}

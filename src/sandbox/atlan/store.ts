/**
 * The Atlan emulator's persistent state, in schema `atlan` of the sandbox's state database, so a
 * restart with the same data directory shows the same API keys, credentials, workflows, apps,
 * runs and assets.
 */
import type { Pool } from 'pg';

export async function migrate(db: Pool): Promise<void> {
  await db.query(`
    CREATE SCHEMA IF NOT EXISTS atlan;
    CREATE TABLE IF NOT EXISTS atlan.api_keys (
      client_id    text PRIMARY KEY,
      guid         uuid NOT NULL,
      token        text NOT NULL UNIQUE,
      display_name text NOT NULL,
      roles        jsonb NOT NULL,
      is_default   boolean NOT NULL DEFAULT false,
      created_at   bigint NOT NULL
    );
    -- Secrets (password) live beside the body, which is what reads return.
    CREATE TABLE IF NOT EXISTS atlan.credentials (
      id         uuid PRIMARY KEY,
      name       text NOT NULL,
      body       jsonb NOT NULL,
      password   text,
      version    integer NOT NULL,
      created_at bigint NOT NULL,
      updated_at bigint NOT NULL,
      created_by text NOT NULL
    );
    -- Legacy WorkflowTemplates: source is the stored template as the workflow index shows it.
    CREATE TABLE IF NOT EXISTS atlan.workflows (
      name          text PRIMARY KEY,
      package       text NOT NULL,
      source        jsonb NOT NULL,
      credential_id uuid,
      archived      boolean NOT NULL DEFAULT false,
      created_at    bigint NOT NULL,
      updated_at    bigint NOT NULL,
      seq           bigserial
    );
    CREATE TABLE IF NOT EXISTS atlan.apps (
      slug          text PRIMARY KEY,
      name          text NOT NULL,
      app_id        text NOT NULL,
      entrypoint    text,
      inputs        jsonb NOT NULL,
      version       bigint NOT NULL,
      owner         text NOT NULL,
      schedules     jsonb NOT NULL DEFAULT '[]',
      archived      boolean NOT NULL DEFAULT false,
      created_at    bigint NOT NULL,
      updated_at    bigint NOT NULL
    );
    -- Runs of both APIs. config is what the run does (captured at submit); the phase moves on
    -- with the clock (runs.ts).
    CREATE TABLE IF NOT EXISTS atlan.runs (
      name              text PRIMARY KEY,
      api               text NOT NULL,
      workflow          text NOT NULL,
      config            jsonb NOT NULL,
      template          jsonb,
      creator           jsonb NOT NULL,
      phase             text NOT NULL,
      message           text,
      created_at        bigint NOT NULL,
      running_at        bigint NOT NULL,
      finish_at         bigint NOT NULL,
      finished_at       bigint,
      stop_requested_at bigint,
      seq               bigserial
    );
    CREATE INDEX IF NOT EXISTS runs_workflow ON atlan.runs (workflow);
    CREATE TABLE IF NOT EXISTS atlan.assets (
      guid          uuid PRIMARY KEY,
      type_name     text NOT NULL,
      qualified_name text NOT NULL,
      connection_qn text NOT NULL,
      status        text NOT NULL,
      attributes    jsonb NOT NULL,
      created_at    bigint NOT NULL,
      updated_at    bigint NOT NULL,
      created_by    text NOT NULL,
      updated_by    text NOT NULL,
      seq           bigserial,
      UNIQUE (type_name, qualified_name)
    );
    CREATE INDEX IF NOT EXISTS assets_connection ON atlan.assets (connection_qn);
  `);
}

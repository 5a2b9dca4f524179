import { LocalDirectoryStore } from './local';
import { stateDirectory, STATE_DATABASE_FROM_VARIABLE, STATE_DATABASE_VARIABLE, STATE_SCHEMA_VARIABLE } from './location';
import type { StateStore } from './store';

export * from './store';
export * from './secrets';
export * from './location';
export { LocalDirectoryStore } from './local';
export { CorruptRecordError } from './records';

/**
 * Opens the state store the environment names: PostgreSQL when a connection string is configured
 * (the variable Pgstacks.configure named, or PGSTACKS_STATE_DATABASE_URL), else the local
 * directory (PGSTACKS_STATE_DIR, the synthesized one, or `fallbackDir`).
 */
export function openStateStore(env: NodeJS.ProcessEnv, fallbackDir?: string): StateStore {
  const variable = env[STATE_DATABASE_FROM_VARIABLE] || (env[STATE_DATABASE_VARIABLE] ? STATE_DATABASE_VARIABLE : undefined);
  if (!variable) return new LocalDirectoryStore(stateDirectory(env, fallbackDir));
  const connectionString = env[variable];
  if (!connectionString) {
    throw new Error(`the PostgreSQL state store's connection string is read from ${variable}, which is not set: export it in the shell that runs terraform/cdktf`);
  }
  // Loaded here: node-postgres costs every engine run ~20 ms to load, and most use a directory.
  const { PostgresStateStore } = require('./postgres') as typeof import('./postgres');
  return new PostgresStateStore({ connectionString, schema: env[STATE_SCHEMA_VARIABLE] || undefined });
}

/** Closes what a store holds open (a PostgreSQL pool), if anything. */
export async function closeStateStore(store: StateStore & { close?: () => Promise<void> }): Promise<void> {
  await store.close?.();
}

/** Where the state store is: the variables and the default, shared by synth, handler and CLI. */
import * as path from 'node:path';

/** Overrides the state directory for the handler and the CLI. */
export const STATE_DIR_VARIABLE = 'PGSTACKS_STATE_DIR';
/** The directory the stack was synthesized with, relative to Terraform's working directory (set on the provisioners, not by users). */
export const DEFAULT_STATE_DIR_VARIABLE = 'PGSTACKS_DEFAULT_STATE_DIR';

/** The state directory the environment names, else `fallback`, resolved against the working directory. */
export function stateDirectory(env: NodeJS.ProcessEnv, fallback = path.join('.pgstacks', 'state')): string {
  return path.resolve(env[STATE_DIR_VARIABLE] || env[DEFAULT_STATE_DIR_VARIABLE] || fallback);
}

/** A PostgreSQL connection string: set, it selects the PostgreSQL state store. */
export const STATE_DATABASE_VARIABLE = 'PGSTACKS_STATE_DATABASE_URL';
/** Synthesized by Pgstacks.configure: the name of the variable that holds the connection string. */
export const STATE_DATABASE_FROM_VARIABLE = 'PGSTACKS_STATE_DATABASE_FROM';
/** The PostgreSQL schema of the state tables. @default 'pgstacks' */
export const STATE_SCHEMA_VARIABLE = 'PGSTACKS_STATE_SCHEMA';

/** A local state directory's metadata file of `stack` (read by the store, and by the handler as it starts). */
export function localMetaFile(root: string, stack: string): string {
  return path.join(root, encodeURIComponent(stack), '_stack.meta');
}

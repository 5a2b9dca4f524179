import * as path from 'node:path';
import { LocalDirectoryStore } from './local';
import type { StateStore } from './store';

export * from './store';
export * from './secrets';
export { LocalDirectoryStore } from './local';

/** Overrides the state directory for the handler and the CLI. */
export const STATE_DIR_VARIABLE = 'PGSTACKS_STATE_DIR';
/** The directory the stack was synthesized with (set on the provisioners, not by users). */
export const DEFAULT_STATE_DIR_VARIABLE = 'PGSTACKS_DEFAULT_STATE_DIR';

/** Opens the state store configured by the environment, falling back to `fallbackDir`. */
export function openStateStore(env: NodeJS.ProcessEnv, fallbackDir = path.resolve('.pgstacks', 'state')): StateStore {
  const dir = env[STATE_DIR_VARIABLE] || env[DEFAULT_STATE_DIR_VARIABLE] || fallbackDir;
  return new LocalDirectoryStore(path.resolve(dir));
}

import { LocalDirectoryStore } from './local';
import { stateDirectory } from './location';
import type { StateStore } from './store';

export * from './store';
export * from './secrets';
export * from './location';
export { LocalDirectoryStore } from './local';

/** Opens the state store configured by the environment, falling back to `fallbackDir`. */
export function openStateStore(env: NodeJS.ProcessEnv, fallbackDir?: string): StateStore {
  return new LocalDirectoryStore(stateDirectory(env, fallbackDir));
}

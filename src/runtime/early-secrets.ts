/**
 * The first thing the handler's loader runs (handler-loader.ts): it starts the slow hash an engine
 * run will need (the state key's, when the stack seals secret outputs or fingerprints
 * Secret.fromEnv inputs; without a key, each input's own) on libuv's threads, so scrypt runs while
 * the main thread compiles and loads the bundle, instead of after. The derivation is shared with
 * the bundle's copy of secrets.ts through a global (secrets.ts). It reads only the environment,
 * the manifest and a local store's stack metadata (for the salt of the stack's key check); with a
 * database store it leaves the derivation to the run.
 */
import * as fs from 'node:fs';
import { HANDLER_ENV } from './handler-env';
import { localMetaFile, stateDirectory, STATE_DATABASE_FROM_VARIABLE, STATE_DATABASE_VARIABLE } from './state/location';
import { needsStretching, prederive, STATE_KEY_VARIABLE, useSalt, type Kdf } from './state/secrets';

export function startDerivingSecrets(env: NodeJS.ProcessEnv): void {
  const stack = env[HANDLER_ENV.stack];
  const manifestFile = env[HANDLER_ENV.manifest];
  if (!stack || !manifestFile || env[STATE_DATABASE_FROM_VARIABLE] || env[STATE_DATABASE_VARIABLE]) return;
  try {
    const meta = readJson(localMetaFile(stateDirectory(env), stack)) as { keyCheck?: { salt?: string; kdf?: Kdf } } | undefined;
    if (meta?.keyCheck?.salt) useSalt(meta.keyCheck.salt);
    const manifest = readJson(manifestFile) as { secretOutputs?: boolean } | undefined;
    // The state key only when the run will seal, open or fingerprint secrets with it and it is a
    // passphrase (scrypt is ~40 ms of CPU); without a key, each secret input's fingerprint is a hash of its own.
    const key = env[STATE_KEY_VARIABLE];
    const inputs = secretInputs(manifest, env);
    const keyed = !!key && (!!meta?.keyCheck || manifest?.secretOutputs === true || inputs.length > 0);
    void prederive(key ? (keyed && needsStretching(key, meta?.keyCheck?.kdf) ? [key] : []) : inputs);
  } catch {
    // Nothing lost: the run derives what it needs when it needs it, and reports what is wrong.
  }
}

/** The values of the environment variables that the `Secret.fromEnv` markers in `value` name. */
export function secretInputs(value: unknown, env: NodeJS.ProcessEnv): string[] {
  const values: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const fromEnv = (v as { $secret?: { fromEnv?: unknown } }).$secret?.fromEnv;
      if (typeof fromEnv === 'string' && Object.keys(v).length === 1) {
        const found = env[fromEnv];
        if (found) values.push(found);
      } else Object.values(v).forEach(walk);
    }
  };
  walk(value);
  return values;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

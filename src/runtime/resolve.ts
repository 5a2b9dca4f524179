/**
 * Deploy-time resolution of the spec's markers: references come from the state store, secrets
 * from the environment Terraform passes to the provisioner.
 */
import type { OutputValue } from './resource-type';
import {
  isConcatMarker,
  isObject,
  isRefMarker,
  isSecretMarker,
  type Json,
  type RefMarker,
  type SecretMarker,
} from './spec';

type Ref = RefMarker['$ref'];

/** Every reference and secret marker inside a value, concatenations included. */
function* markers(value: unknown): Generator<RefMarker | SecretMarker> {
  if (isRefMarker(value) || isSecretMarker(value)) yield value;
  else if (isConcatMarker(value)) for (const part of value.$concat) yield* markers(part);
  else if (Array.isArray(value)) for (const item of value) yield* markers(item);
  else if (isObject(value)) for (const item of Object.values(value)) yield* markers(item);
}

export const collectRefs = (value: Json): Ref[] => [...markers(value)].filter(isRefMarker).map((m) => m.$ref);

export const collectSecretNames = (value: Json): string[] => [
  ...new Set([...markers(value)].filter(isSecretMarker).map((m) => m.$secret.fromEnv)),
];

/** Replaces each marker `replace` handles; a concat whose parts all became strings is joined. */
async function transform(value: Json, replace: (marker: Json) => Promise<Json | undefined>): Promise<Json> {
  const replaced = await replace(value);
  if (replaced !== undefined) return replaced;
  if (isConcatMarker(value)) {
    const parts = await Promise.all(value.$concat.map(async (p) => (await replace(p as Json)) ?? (p as Json)));
    return parts.every((p) => typeof p === 'string' || typeof p === 'number' || typeof p === 'boolean')
      ? parts.join('')
      : ({ $concat: parts } as Json);
  }
  if (Array.isArray(value)) return Promise.all(value.map((v) => transform(v, replace)));
  if (isObject(value)) {
    const out: { [k: string]: Json } = {};
    for (const [k, v] of Object.entries(value)) out[k] = await transform(v as Json, replace);
    return out;
  }
  return value;
}

export function resolveRefs(value: Json, lookup: (ref: Ref) => Promise<OutputValue>): Promise<Json> {
  return transform(value, async (v) => (isRefMarker(v) ? lookup(v.$ref) : undefined));
}

/** Puts the secrets' values in; a secret not in `secrets` stays a marker. */
export function substituteSecrets(value: Json, secrets: ReadonlyMap<string, string>): Promise<Json> {
  return transform(value, async (v) => (isSecretMarker(v) ? secrets.get(v.$secret.fromEnv) : undefined));
}

/** Reads every secret the props need; a missing variable is an error naming it and the resource. */
export function readSecrets(names: readonly string[], env: NodeJS.ProcessEnv, resource: string): Map<string, string> {
  const missing = names.filter((n) => env[n] === undefined || env[n] === '');
  if (missing.length > 0) {
    const list = missing.join(', ');
    throw new Error(
      `${resource} needs the environment variable${missing.length > 1 ? 's' : ''} ${list} ` +
        `(Secret.fromEnv), but ${missing.length > 1 ? 'they are' : 'it is'} not set. ` +
        `Export ${list} in the shell that runs terraform/cdktf, then apply again.`,
    );
  }
  return new Map(names.map((n) => [n, env[n] as string]));
}

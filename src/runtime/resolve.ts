/**
 * Deploy-time resolution of a spec's markers, done once per resource and run: references come
 * from other resources' records, secrets from the environment Terraform passes to the engine,
 * Terraform values from the variables it evaluated for them.
 *
 * Two forms come out. The *stored* form goes into the record: public values are filled in, while
 * secrets (and references to secret outputs) stay markers, so no record ever holds a secret. The
 * *handler* form has every value filled in and lives only in memory.
 */
import type { OutputValue } from './resource-type';
import {
  isConcatMarker,
  isObject,
  isRefMarker,
  isSecretMarker,
  isTerraformValueMarker,
  type Json,
  type JsonObject,
  type RefMarker,
  type SecretMarker,
} from './spec';

export type Ref = RefMarker['$ref'];

/** What a reference points at, as far as it is known now. */
export type RefValue =
  | { readonly known: true; readonly value: OutputValue; readonly secret: boolean }
  | { readonly known: false; readonly why: string };

export interface ResolveSources {
  /** A referenced resource's output. */
  ref(ref: Ref): RefValue;
  /** An environment variable (secrets and Terraform values); undefined when unset. */
  env(name: string): string | undefined;
}

export interface ResolvedProps {
  /** The stored form: secrets and secret references are markers; unknown values too. */
  readonly props: JsonObject;
  /** Secret values by key: the variable name, or `<resource>.<attribute>` for a secret output. */
  readonly secrets: ReadonlyMap<string, string>;
  /** Dotted paths of values known only after another resource is applied. */
  readonly unknown: readonly string[];
  /** Environment variables the props need that are not set. */
  readonly missing: readonly string[];
}

/** The key a secret value is filed under (and fingerprinted by). */
export function secretKey(marker: SecretMarker | RefMarker): string {
  return isSecretMarker(marker) ? marker.$secret.fromEnv : `${marker.$ref.resource}.${marker.$ref.attribute}`;
}

/** Every reference inside a value, concatenations included. */
export function collectRefs(value: unknown): Ref[] {
  if (isRefMarker(value)) return [value.$ref];
  if (isConcatMarker(value)) return value.$concat.flatMap(collectRefs);
  if (Array.isArray(value)) return value.flatMap(collectRefs);
  if (isObject(value) && !isSecretMarker(value) && !isTerraformValueMarker(value)) return Object.values(value).flatMap(collectRefs);
  return [];
}

/** The logical ids a spec's props reference, sorted. */
export const dependenciesOf = (props: JsonObject): string[] => [...new Set(collectRefs(props).map((r) => r.resource))].sort();

/** Resolves the markers of a spec's props. Never throws: problems come back as `unknown`/`missing`. */
export function resolveProps(props: JsonObject, sources: ResolveSources): ResolvedProps {
  const secrets = new Map<string, string>();
  const unknown = new Set<string>();
  const missing = new Set<string>();

  const leaf = (value: Json, path: string): Json => {
    if (isSecretMarker(value)) {
      const found = sources.env(value.$secret.fromEnv);
      if (found === undefined || found === '') missing.add(value.$secret.fromEnv);
      else secrets.set(secretKey(value), found);
      return value;
    }
    if (isRefMarker(value)) {
      const target = sources.ref(value.$ref);
      if (!target.known) {
        unknown.add(path);
        return value;
      }
      if (!target.secret) return target.value;
      if (target.value !== null) secrets.set(secretKey(value), String(target.value));
      return value;
    }
    if (isTerraformValueMarker(value)) {
      const text = sources.env(value.$tf);
      if (text === undefined) {
        unknown.add(path);
        return value;
      }
      return JSON.parse(text) as Json;
    }
    return undefined as never;
  };

  const walk = (value: Json, path: string): Json => {
    if (isSecretMarker(value) || isRefMarker(value) || isTerraformValueMarker(value)) return leaf(value, path);
    if (isConcatMarker(value)) {
      const parts = value.$concat.map((part) => (typeof part === 'string' ? part : leaf(part as unknown as Json, path)));
      // Filled-in values join the literals around them: only markers stay separate.
      const merged: Json[] = [];
      for (const part of parts) {
        const text = typeof part === 'object' && part !== null ? undefined : part === null ? '' : String(part);
        if (text !== undefined && typeof merged[merged.length - 1] === 'string') merged[merged.length - 1] += text;
        else merged.push(text ?? part);
      }
      return merged.length === 1 && typeof merged[0] === 'string' ? merged[0] : ({ $concat: merged } as Json);
    }
    if (Array.isArray(value)) return value.map((v, i) => walk(v, join(path, String(i))));
    if (isObject(value)) {
      const out: JsonObject = {};
      for (const [key, v] of Object.entries(value)) out[key] = walk(v as Json, join(path, key));
      return out;
    }
    return value;
  };

  return { props: walk(props, '') as JsonObject, secrets, unknown: [...unknown].sort(), missing: [...missing].sort() };
}

/** The handler form: every secret marker replaced by its value; a marker without one stays. */
export function substituteSecrets(value: Json, secrets: ReadonlyMap<string, string>): Json {
  const lookup = (v: unknown): string | undefined => (isSecretMarker(v) || isRefMarker(v) ? secrets.get(secretKey(v)) : undefined);
  const walk = (v: Json): Json => {
    const direct = lookup(v);
    if (direct !== undefined) return direct;
    if (isConcatMarker(v)) {
      const parts = v.$concat.map((p) => lookup(p) ?? p);
      return parts.every((p) => typeof p === 'string') ? parts.join('') : ({ $concat: parts } as Json);
    }
    if (Array.isArray(v)) return v.map(walk);
    if (isObject(v) && !isSecretMarker(v) && !isRefMarker(v)) {
      const out: JsonObject = {};
      for (const [key, item] of Object.entries(v)) out[key] = walk(item as Json);
      return out;
    }
    return v;
  };
  return walk(value);
}

const join = (prefix: string, key: string) => (prefix ? `${prefix}.${key}` : key);

/**
 * The spec: the canonical, secret-free JSON document of one resource, and the stack manifest
 * that lists every spec of a stack. Constructs write both at synth; the engine reads the manifest
 * at deploy time. Shared by synth and handler, so it imports nothing from cdktf.
 */
import * as z from 'zod';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** A value read from an environment variable at deploy time; only the name is synthesized. */
export interface SecretMarker {
  readonly $secret: { readonly fromEnv: string };
}
/** Another pgstacks resource's output, looked up in the state store at deploy time. */
export interface RefMarker {
  readonly $ref: { readonly resource: string; readonly attribute: string };
}
/** A string made of literals, references and secrets, e.g. `postgres://${endpoint.host}/db`. */
export interface ConcatMarker {
  readonly $concat: ReadonlyArray<string | RefMarker | SecretMarker>;
}
/**
 * A value only Terraform knows (another provider's attribute, a variable): Terraform evaluates it
 * into the environment variable named here, JSON-encoded, when it runs the engine.
 */
export interface TerraformValueMarker {
  readonly $tf: string;
}

/**
 * A service connection (where and how to reach a service, e.g. a CDF project and its deploy
 * credentials) declared once in the stack: the engine puts the connection's props in its place.
 */
export interface ConnectionMarker {
  readonly $connection: string;
}

/** A service connection as the manifest holds it: its logical id and props. */
export interface ConnectionSpec {
  readonly id: string;
  readonly props: JsonObject;
}

export type RemovalPolicyName = 'destroy' | 'retain';

/** The spec of one managed resource. */
export interface ResourceSpec {
  readonly type: string;
  readonly stack: string;
  /** The logical id: the construct path below the stack, e.g. `cdf/adf-sink`. */
  readonly id: string;
  readonly props: JsonObject;
  readonly removalPolicy: RemovalPolicyName;
  /** Lets an immutable change replace a RETAIN resource (the old object is deleted). */
  readonly allowReplacement: boolean;
  /** Previous logical ids: a record found under one of them is moved, not recreated. */
  readonly aliases: readonly string[];
  /** How long each of its handler calls may take, waits for long-running operations included. @default the run's (30 min) */
  readonly timeoutSeconds?: number;
}

/** Everything a stack declares: what the engine drives the state store to. */
export interface StackManifest {
  readonly stack: string;
  /** Connections the resources' props refer to with `$connection` markers. */
  readonly connections?: readonly ConnectionSpec[];
  readonly resources: readonly ResourceSpec[];
  /** Some resource's type has secret outputs: the run will seal them with the state key. */
  readonly secretOutputs?: boolean;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isMarker(value: unknown, key: string): boolean {
  return isObject(value) && Object.keys(value).length === 1 && key in value;
}
export const isSecretMarker = (v: unknown): v is SecretMarker => isMarker(v, '$secret');
export const isRefMarker = (v: unknown): v is RefMarker => isMarker(v, '$ref');
export const isConcatMarker = (v: unknown): v is ConcatMarker => isMarker(v, '$concat');
export const isTerraformValueMarker = (v: unknown): v is TerraformValueMarker => isMarker(v, '$tf');
export const isConnectionMarker = (v: unknown): v is ConnectionMarker => isMarker(v, '$connection');
const MARKER_KEYS = new Set(['$secret', '$ref', '$concat', '$tf', '$connection']);
export function isMarkerValue(v: unknown): boolean {
  if (!isObject(v)) return false;
  let only: string | undefined;
  for (const key in v) {
    if (only !== undefined) return false;
    only = key;
  }
  return only !== undefined && MARKER_KEYS.has(only);
}

/** Props with each `$connection` marker replaced by that connection's props. */
export function expandConnections(value: Json, connections: ReadonlyMap<string, JsonObject>): Json {
  if (isConnectionMarker(value)) {
    const found = connections.get(value.$connection);
    if (!found) throw new Error(`no connection '${value.$connection}' in the stack manifest (it has: ${[...connections.keys()].join(', ') || 'none'})`);
    return found;
  }
  // Copies only what holds a connection: most props hold one, at the top.
  if (Array.isArray(value)) {
    const out = value.map((v) => expandConnections(v, connections));
    return out.some((v, i) => v !== value[i]) ? out : value;
  }
  if (isObject(value)) {
    let out: JsonObject | undefined;
    for (const key in value) {
      const v = value[key] as Json;
      const expanded = typeof v === 'object' && v !== null ? expandConnections(v, connections) : v;
      if (expanded !== v) (out ??= { ...value })[key] = expanded;
    }
    return out ?? value;
  }
  return value;
}

/**
 * Sorts object keys and drops undefined values, so equal specs serialize equally. What is
 * canonical already is returned as it is (synth canonicalizes every spec, and most are).
 */
export function canonicalize(value: unknown): Json {
  if (Array.isArray(value)) {
    let out: Json[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = canonicalize(value[i]);
      if (v !== value[i]) (out ??= value.slice())[i] = v;
    }
    return out ?? (value as Json[]);
  }
  if (isObject(value)) {
    const keys = Object.keys(value);
    let canonical = true;
    for (let i = 0; i < keys.length && canonical; i++) {
      const v = value[keys[i]];
      canonical = v !== undefined && (i === 0 || keys[i - 1] < keys[i]) && canonicalize(v) === v;
    }
    if (canonical) return value as JsonObject;
    const out: JsonObject = {};
    for (const key of keys.sort()) {
      if (value[key] !== undefined) out[key] = canonicalize(value[key]);
    }
    return out;
  }
  return value as Json;
}

/**
 * Encodes a spec for its lifecycle resource, where Terraform shows it in plans: one `spec` key
 * (what `null_resource.triggers` takes is a map of strings) holding the spec as JSON text, which
 * Terraform's plan still diffs field by field (`spec = jsonencode({ ~ props = { ~ size = 1 -> 2 } })`).
 * One string also keeps synth cheap: cdktf walks every value it is given. The stack's name, the
 * same for every resource, is left out, as are fields at their defaults: a plan shows what the
 * user set.
 */
export function encodeTriggers(spec: ResourceSpec): Record<string, string> {
  return { spec: specJson(spec) };
}

/**
 * A spec as JSON text, the form both its lifecycle resource and the stack manifest carry:
 * canonical, without the stack (the manifest names it once) or fields at their defaults.
 */
export function specJson(spec: ResourceSpec): string {
  // Keys in canonical (sorted) order; JSON.stringify leaves out the undefined ones.
  return JSON.stringify({
    aliases: spec.aliases.length ? spec.aliases : undefined,
    allowReplacement: spec.allowReplacement ? true : undefined,
    id: spec.id,
    props: canonicalize(spec.props),
    removalPolicy: spec.removalPolicy,
    timeoutSeconds: spec.timeoutSeconds,
    type: spec.type,
  });
}

const logicalIdSchema = z.string().min(1);
/** Props as read from JSON text, where every value is JSON already: not walked again (z.json() would be, per value). */
const propsSchema = z.record(z.string(), z.unknown());

export const resourceSpecSchema = z.object({
  type: z.string().min(1),
  stack: z.string().min(1),
  id: logicalIdSchema,
  props: propsSchema,
  removalPolicy: z.enum(['destroy', 'retain']),
  allowReplacement: z.boolean().default(false),
  aliases: z.array(logicalIdSchema).default([]),
  timeoutSeconds: z.number().positive().optional(),
});

export const stackManifestSchema = z
  .object({
    stack: z.string().min(1),
    connections: z.array(z.object({ id: logicalIdSchema, props: propsSchema })).default([]),
    // Each resource's stack is the manifest's, unless it says otherwise.
    resources: z.array(resourceSpecSchema.extend({ stack: z.string().min(1).optional() })),
    secretOutputs: z.boolean().optional(),
  })
  .transform((manifest) => ({ ...manifest, resources: manifest.resources.map((r) => ({ ...r, stack: r.stack ?? manifest.stack })) }));

/** Reads a manifest file's text; a malformed one is a clear error naming where it came from. */
export function parseManifest(text: string, where: string): StackManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`the stack manifest ${where} is not valid JSON (${(err as Error).message}); synthesize the stack again`);
  }
  const parsed = stackManifestSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`the stack manifest ${where} is malformed: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data as StackManifest;
}

/**
 * The spec: the canonical, secret-free JSON document a construct synthesizes into its lifecycle
 * resource's triggers and the handler reads back at deploy time. Shared by synth and handler, so
 * it imports nothing from cdktf.
 */
import { z } from 'zod';

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
}

/** The spec of a stack's prune resource: every logical id the stack's code still declares. */
export interface PruneSpec {
  readonly type: typeof PRUNE_TYPE;
  readonly stack: string;
  readonly resources: readonly string[];
  /** Ids that are aliases of declared resources: their records are moved, never pruned. */
  readonly aliases: readonly string[];
}

export const PRUNE_TYPE = 'pgstacks:prune';

export const isPruneSpec = (spec: ResourceSpec | PruneSpec): spec is PruneSpec => spec.type === PRUNE_TYPE;

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isMarker(value: unknown, key: string): boolean {
  return isObject(value) && Object.keys(value).length === 1 && key in value;
}
export const isSecretMarker = (v: unknown): v is SecretMarker => isMarker(v, '$secret');
export const isRefMarker = (v: unknown): v is RefMarker => isMarker(v, '$ref');
export const isConcatMarker = (v: unknown): v is ConcatMarker => isMarker(v, '$concat');
export const isMarkerValue = (v: unknown): boolean =>
  isSecretMarker(v) || isRefMarker(v) || isConcatMarker(v);

/** Sorts object keys and drops undefined values, so equal specs serialize equally. */
export function canonicalize(value: unknown): Json {
  if (Array.isArray(value)) return value.map((v) => canonicalize(v));
  if (isObject(value)) {
    const out: JsonObject = {};
    for (const key of Object.keys(value).sort()) {
      if (value[key] !== undefined) out[key] = canonicalize(value[key]);
    }
    return out;
  }
  return value as Json;
}

export type TriggerFormat = 'object' | 'strings';

/**
 * Encodes a spec for the lifecycle resource: `terraform_data.triggers_replace` takes the object
 * as it is; `null_resource.triggers` takes only strings, so non-string fields are JSON-encoded
 * (Terraform still renders a JSON string's diff field by field).
 */
export function encodeTriggers(spec: ResourceSpec | PruneSpec, format: TriggerFormat): JsonObject {
  // Fields at their defaults are left out, so a plan shows only what the user set.
  const allowReplacement = 'allowReplacement' in spec && spec.allowReplacement ? true : undefined;
  const canonical = canonicalize({ ...spec, allowReplacement, aliases: spec.aliases.length ? spec.aliases : undefined }) as JsonObject;
  if (format === 'object') return canonical;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(canonical)) {
    out[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return out;
}

/** Parses a field that null_resource may have delivered as JSON text. */
const decoded = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === 'string' ? JSON.parse(v) : v), schema);

const logicalIdSchema = z.string().min(1);

export const resourceSpecSchema = z.object({
  type: z.string().min(1),
  stack: z.string().min(1),
  id: logicalIdSchema,
  props: decoded(z.record(z.string(), z.json())),
  removalPolicy: z.enum(['destroy', 'retain']),
  allowReplacement: decoded(z.boolean()).default(false),
  aliases: decoded(z.array(logicalIdSchema)).default([]),
});

export const pruneSpecSchema = z.object({
  type: z.literal(PRUNE_TYPE),
  stack: z.string().min(1),
  resources: decoded(z.array(logicalIdSchema)),
  aliases: decoded(z.array(logicalIdSchema)).default([]),
});

/** Reads the spec Terraform handed over (`jsonencode(self.triggers_replace)`). */
export function decodeSpec(text: string | undefined): ResourceSpec | PruneSpec {
  if (!text) throw new Error('PGSTACKS_SPEC is not set: the handler runs from a pgstacks lifecycle resource');
  const raw: unknown = JSON.parse(text);
  if (isObject(raw) && raw.type === PRUNE_TYPE) return pruneSpecSchema.parse(raw) as PruneSpec;
  return resourceSpecSchema.parse(raw) as ResourceSpec;
}

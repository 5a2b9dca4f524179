/**
 * The Lakebase API's JSON conventions: durations as `"300s"`, RFC 3339 timestamps, ids checked
 * against the pattern the service quotes, opaque page tokens, `true`/`false` query flags, and
 * `update_mask` (comma-joined paths, percent-decoded by the URL parser).
 */
import { randomBytes } from 'node:crypto';
import * as z from 'zod';
import { LAKEBASE_ID, LAKEBASE_ID_LENGTH } from '../../services/databricks';
import { badId, invalidParameter, requiredField } from './errors';

/** `"300s"`: whole seconds, as the service reports them. */
export function duration(seconds: number): string {
  return `${seconds}s`;
}

/** A protobuf Duration in JSON (`"300s"`, `"1.5s"`), parsed to seconds. */
export const durationSchema = z.string().transform((value, ctx) => {
  const match = /^(\d+)(\.\d{1,9})?s$/.exec(value.trim());
  if (!match) {
    ctx.addIssue({ code: 'custom', message: `Invalid duration '${value}': expected seconds with an 's' suffix, e.g. "300s"` });
    return z.NEVER;
  }
  return Number(match[1]) + Number(match[2] ?? 0);
});

/** RFC 3339 with milliseconds, in UTC. */
export function timestamp(ms: number): string {
  return new Date(ms).toISOString();
}

/** A protobuf Timestamp in JSON (RFC 3339), parsed to ms since the epoch. */
export const timestampSchema = z.string().transform((value, ctx) => {
  const ms = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: 'custom', message: `Invalid timestamp '${value}': expected RFC 3339, e.g. "2026-01-02T03:04:05Z"` });
    return z.NEVER;
  }
  return ms;
});

/** A boolean query parameter: `true`/`false` in any case (absent = false). */
export const queryFlag = z
  .string()
  .optional()
  .transform((value, ctx) => {
    const v = value?.trim().toLowerCase();
    if (v === undefined || v === '') return false;
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    ctx.addIssue({ code: 'custom', message: `Invalid boolean '${value}': expected true or false` });
    return z.NEVER;
  });

export type IdKind = keyof typeof LAKEBASE_ID_LENGTH;

/**
 * Checks a required id from the query: missing is the "required" message, a bad one the pattern
 * message the service quotes.
 */
export function requireId(kind: IdKind, value: string | undefined): string {
  const field = `${kind}_id`;
  if (value === undefined || value === '') throw requiredField(field);
  return checkId(kind, value);
}

/** Checks an id against the pattern and the length rules of its kind. */
export function checkId(kind: IdKind, value: string): string {
  const field = `${kind}_id`;
  if (!LAKEBASE_ID.test(value)) throw badId(field, LAKEBASE_ID, value);
  const { min, max } = LAKEBASE_ID_LENGTH[kind];
  if (value.length < min || value.length > max) throw invalidParameter(`Field ${field} must be ${min}-${max} characters long, got '${value}'.`);
  return value;
}

/** Turns a name into an id of the pattern (lowercase, other characters `-`), or undefined if none fits. */
export function slug(value: string, minLength = 1): string | undefined {
  const candidate = value
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return candidate.length >= minLength && LAKEBASE_ID.test(candidate) ? candidate : undefined;
}

/** Lowercase letters and digits, for generated ids and names. */
export function randomSuffix(length: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(length)].map((b) => alphabet[b % alphabet.length]).join('');
}

// ------------------------------------------------------------------------------ paging

/** Lists return at most this many items per page, and this many when `page_size` is absent or 0. */
export const MAX_PAGE_SIZE = 100;

export const pagingQuery = {
  page_size: z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value.trim() === '') return MAX_PAGE_SIZE;
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) {
        ctx.addIssue({ code: 'custom', message: `Field page_size must be a non-negative integer, got '${value}'.` });
        return z.NEVER;
      }
      // Larger sizes are coerced to the maximum, as Google-style APIs do.
      return n === 0 ? MAX_PAGE_SIZE : Math.min(n, MAX_PAGE_SIZE);
    }),
  page_token: z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === '') return undefined;
      const after = decodePageToken(value);
      if (after === undefined) {
        ctx.addIssue({ code: 'custom', message: `Invalid page_token '${value}'.` });
        return z.NEVER;
      }
      return after;
    }),
};

/** A token continuing after the item with sequence number `seq`. */
export function encodePageToken(seq: number): string {
  return Buffer.from(JSON.stringify({ after: seq })).toString('base64url');
}

function decodePageToken(token: string): number | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { after?: unknown };
    return typeof parsed.after === 'number' && Number.isSafeInteger(parsed.after) ? parsed.after : undefined;
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------------------ update masks

/**
 * The rules of one resource's `update_mask`: the paths the service accepts, the leaves a coarse
 * path (`spec`, `*`, a message) stands for, and the virtual paths that name a oneof (`spec.expiration`
 * for a branch's ttl / expire_time / no_expiry).
 */
export interface MaskRules {
  /** Every accepted path, coarse or leaf. */
  readonly accepted: readonly string[];
  /** The leaves, in the order they are applied; a coarse path expands to those below it. */
  readonly leaves: readonly string[];
  /** A virtual leaf and the body fields (under its parent) that set it. */
  readonly virtual?: Readonly<Record<string, readonly string[]>>;
  /** Paths spelled differently in some docs, and the path they mean. */
  readonly aliases?: Readonly<Record<string, string>>;
  /** The leaves an absent mask updates. @default every leaf */
  readonly whenAbsent?: readonly string[];
}

/**
 * The leaves an update applies: the mask's paths (unknown ones refused, leaves whose value the body
 * lacks refused), with coarse paths expanded to the leaves the body sets.
 */
export function maskedLeaves(rawMask: string | undefined, body: unknown, rules: MaskRules): string[] {
  const paths = (rawMask ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p) => rules.aliases?.[p] ?? p);
  for (const path of paths) {
    if (!rules.accepted.includes(path) && path !== '*') throw invalidParameter(`Unknown field path in update_mask: '${path}'`);
  }
  const present = (leaf: string) => isPresent(body, leaf, rules);
  const leaves: string[] = [];
  const add = (leaf: string) => void (leaves.includes(leaf) || leaves.push(leaf));
  if (paths.length === 0) {
    for (const leaf of rules.whenAbsent ?? rules.leaves) if (present(leaf)) add(leaf);
    return leaves;
  }
  for (const path of paths) {
    if (rules.leaves.includes(path)) {
      if (!present(path)) throw invalidParameter(`Field '${path}' is in update_mask but not provided in request`);
      add(path);
      continue;
    }
    // A coarse path: `*`, `spec`, a message; the leaves below it that the body sets.
    const below = rules.leaves.filter((leaf) => path === '*' || leaf.startsWith(`${path}.`));
    if (path.includes('.') && below.length > 0 && !below.some(present) && valueAt(body, path) === undefined) {
      throw invalidParameter(`Field '${path}' is in update_mask but not provided in request`);
    }
    for (const leaf of below) if (present(leaf)) add(leaf);
  }
  return leaves;
}

function isPresent(body: unknown, leaf: string, rules: MaskRules): boolean {
  const alternatives = rules.virtual?.[leaf];
  if (!alternatives) return valueAt(body, leaf) !== undefined;
  const parent = leaf.slice(0, leaf.lastIndexOf('.'));
  return alternatives.some((field) => valueAt(body, `${parent}.${field}`) !== undefined);
}

/** The value at a dotted path; null counts as absent. */
export function valueAt(body: unknown, path: string): unknown {
  let node = body;
  for (const part of path.split('.')) {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node === null ? undefined : node;
}

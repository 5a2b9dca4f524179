/**
 * Heracles' list queries (`roles`, `v2/groups`, `users`, `apikeys`, `credentials`): a JSON `filter`
 * of `{field: value}` or `{field: {"$ilike": "pat%"}}` (also `$eq`, `$ne`, `$in`, `$nin`, `$like`,
 * and `$and`/`$or` lists), `sort` by a field (`-field` descending), `offset`/`limit`, and `count`
 * flags that arrive as `True` or `true`.
 */
import * as z from 'zod';
import { badRequest } from './errors';

/** `true/false` in any case (the Python client sends `True`). */
export const flag = z
  .string()
  .optional()
  .transform((value) => value?.trim().toLowerCase() !== 'false');

const count = (fallback: number, max: number) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === '') return fallback;
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0 || n > max) {
        ctx.addIssue({ code: 'custom', message: `Expected an integer from 0 to ${max}` });
        return z.NEVER;
      }
      return n;
    });

/** The query every Heracles list takes. */
export const listQuery = z.looseObject({
  limit: count(20, 100_000),
  offset: count(0, Number.MAX_SAFE_INTEGER),
  sort: z.string().optional(),
  count: flag,
  filter: z.string().optional(),
});
export type ListQuery = z.output<typeof listQuery>;

type Filter = Record<string, unknown>;

/** Parses `filter`; a key outside `allowed` (when given) is a 400, as the credentials API answers. */
export function parseFilter(text: string | undefined, allowed?: readonly string[]): Filter {
  if (text === undefined || text.trim() === '') return {};
  let filter: unknown;
  try {
    filter = JSON.parse(text);
  } catch {
    throw badRequest(`Invalid filter: not JSON: ${text}`);
  }
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) throw badRequest('Invalid filter: expected a JSON object');
  if (allowed) checkKeys(filter as Filter, allowed);
  return filter as Filter;
}

function checkKeys(filter: Filter, allowed: readonly string[]): void {
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(value)) throw badRequest(`Invalid filter: ${key} takes a list`);
      for (const part of value) checkKeys(part as Filter, allowed);
    } else if (!allowed.includes(key)) {
      throw badRequest(`Invalid filter: unknown field '${key}'; expected one of ${allowed.join(', ')}`);
    }
  }
}

export function matchesFilter(record: Record<string, unknown>, filter: Filter): boolean {
  return Object.entries(filter).every(([key, condition]) => {
    if (key === '$and') return (condition as Filter[]).every((part) => matchesFilter(record, part));
    if (key === '$or') return (condition as Filter[]).some((part) => matchesFilter(record, part));
    return matchesCondition(valueAt(record, key), condition);
  });
}

function valueAt(record: Record<string, unknown>, key: string): unknown {
  if (key in record) return record[key];
  let current: unknown = record;
  for (const part of key.split('.')) current = typeof current === 'object' && current !== null ? (current as Record<string, unknown>)[part] : undefined;
  return current;
}

function matchesCondition(value: unknown, condition: unknown): boolean {
  if (typeof condition !== 'object' || condition === null) return same(value, condition);
  if (Array.isArray(condition)) return condition.some((c) => same(value, c));
  return Object.entries(condition as Filter).every(([op, operand]) => {
    switch (op) {
      case '$eq':
        return same(value, operand);
      case '$ne':
        return !same(value, operand);
      case '$in':
        return Array.isArray(operand) && operand.some((o) => same(value, o));
      case '$nin':
        return Array.isArray(operand) && !operand.some((o) => same(value, o));
      case '$ilike':
        return typeof value === 'string' && likePattern(String(operand), 'i').test(value);
      case '$like':
        return typeof value === 'string' && likePattern(String(operand), '').test(value);
      default:
        throw badRequest(`Invalid filter: unknown operator '${op}'`);
    }
  });
}

function same(value: unknown, expected: unknown): boolean {
  if (Array.isArray(value)) return value.some((v) => same(v, expected));
  return value === expected || (value !== undefined && value !== null && String(value) === String(expected));
}

/** SQL LIKE: `%` any run, `_` one character; everything else literal. */
function likePattern(pattern: string, flags: string): RegExp {
  const body = [...pattern].map((c) => (c === '%' ? '.*' : c === '_' ? '.' : c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`, `${flags}s`);
}

/** Filters, sorts and pages `records`; the Heracles envelope `{totalRecord, filterRecord, records}`. */
export function listPage<T extends Record<string, unknown>>(
  records: readonly T[],
  query: ListQuery,
  allowed?: readonly string[],
): { totalRecord: number; filterRecord: number; records: T[] } {
  const filter = parseFilter(query.filter, allowed);
  let matching = records.filter((r) => matchesFilter(r, filter));
  if (query.sort) {
    const descending = query.sort.startsWith('-');
    const field = query.sort.replace(/^[-+]/, '');
    matching = [...matching].sort((a, b) => {
      const [x, y] = [String(valueAt(a, field) ?? ''), String(valueAt(b, field) ?? '')];
      return (x < y ? -1 : x > y ? 1 : 0) * (descending ? -1 : 1);
    });
  }
  return {
    totalRecord: records.length,
    filterRecord: matching.length,
    records: matching.slice(query.offset, query.offset + query.limit),
  };
}

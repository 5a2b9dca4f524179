/**
 * The Elasticsearch query DSL as Atlan's search endpoints take it (workflow and run index search,
 * Atlas index search), evaluated over documents in memory: `bool` (must, filter, should with
 * minimum_should_match, must_not), `term`, `terms`, `prefix`, `regexp`, `wildcard`, `exists`,
 * `range` (numbers, ISO times and `now-2h` date math), `ids`, `match`, `match_all`, `match_none`
 * and `nested` (whose path only scopes field names, which are written in full anyway), plus
 * `sort` in its string, `{field: order}` and `{field: {order, nested}}` forms, and `from`/`size`.
 * Field names may end in `.keyword`. A query the emulator does not know is a 400, not a silent match.
 */
import { badRequest } from './errors';

/** How an index reads a field of its documents: all its values (arrays flattened), and whether terms on it ignore case. */
export type FieldReader<D> = (doc: D, field: string) => { values: unknown[]; caseInsensitive?: boolean };

export interface SearchContext<D> {
  readonly read: FieldReader<D>;
  /** The id a document is known by (for `ids` and `_id`). */
  readonly id: (doc: D) => string;
  /** Insertion order: breaks ties so equal sort keys list in a stable order. */
  readonly seq: (doc: D) => number;
  /** For `now` in date math. */
  readonly now: number;
}

type Json = Record<string, unknown>;

export function matches<D>(doc: D, query: unknown, ctx: SearchContext<D>): boolean {
  if (query === undefined || query === null) return true;
  if (!isObject(query)) throw badRequest(`Invalid query: expected an object, got ${JSON.stringify(query)}`);
  const entries = Object.entries(query);
  if (entries.length !== 1) throw badRequest(`Invalid query: a query clause has exactly one key, got ${entries.map(([k]) => k).join(', ') || 'none'}`);
  const [kind, body] = entries[0]!;
  switch (kind) {
    case 'bool':
      return matchesBool(doc, body, ctx);
    case 'nested':
      if (!isObject(body) || body.query === undefined) throw badRequest('Invalid query: nested takes {path, query}');
      return matches(doc, body.query, ctx);
    case 'match_all':
      return true;
    case 'match_none':
      return false;
    case 'ids': {
      const values = isObject(body) && Array.isArray(body.values) ? body.values.map(String) : [];
      return values.includes(ctx.id(doc));
    }
    case 'exists': {
      const field = isObject(body) && typeof body.field === 'string' ? body.field : undefined;
      if (!field) throw badRequest('Invalid query: exists takes {field}');
      return ctx.read(doc, field).values.some((v) => v !== null && v !== undefined && v !== '');
    }
    case 'terms':
      return matchesTerms(doc, body, ctx);
    case 'term':
    case 'prefix':
    case 'regexp':
    case 'wildcard':
    case 'match':
    case 'match_phrase':
      return matchesLeaf(doc, kind, body, ctx);
    case 'range':
      return matchesRange(doc, body, ctx);
    default:
      throw badRequest(`Invalid query: the sandbox does not support '${kind}' queries`);
  }
}

function matchesBool<D>(doc: D, body: unknown, ctx: SearchContext<D>): boolean {
  if (!isObject(body)) throw badRequest('Invalid query: bool takes an object');
  const list = (key: string): unknown[] => {
    const value = body[key];
    if (value === undefined) return [];
    return Array.isArray(value) ? value : [value];
  };
  if (!list('must').every((q) => matches(doc, q, ctx))) return false;
  if (!list('filter').every((q) => matches(doc, q, ctx))) return false;
  if (list('must_not').some((q) => matches(doc, q, ctx))) return false;
  const should = list('should');
  if (should.length === 0) return true;
  const scoring = list('must').length + list('filter').length > 0;
  const minimum = body.minimum_should_match !== undefined ? Number(body.minimum_should_match) : scoring ? 0 : 1;
  return should.filter((q) => matches(doc, q, ctx)).length >= minimum;
}

/** `{field: {value, case_insensitive?}}` or the short `{field: value}`. */
function fieldAndValue(kind: string, body: unknown): { field: string; value: unknown; caseInsensitive: boolean } {
  if (!isObject(body)) throw badRequest(`Invalid query: ${kind} takes {field: {value}}`);
  const entries = Object.entries(body).filter(([k]) => k !== 'boost');
  if (entries.length !== 1) throw badRequest(`Invalid query: ${kind} takes exactly one field`);
  const [field, spec] = entries[0]!;
  if (isObject(spec)) {
    const value = spec.value ?? spec.query;
    if (value === undefined) throw badRequest(`Invalid query: ${kind} on '${field}' has no value`);
    return { field, value, caseInsensitive: spec.case_insensitive === true };
  }
  return { field, value: spec, caseInsensitive: false };
}

function matchesLeaf<D>(doc: D, kind: string, body: unknown, ctx: SearchContext<D>): boolean {
  const { field, value, caseInsensitive } = fieldAndValue(kind, body);
  const read = ctx.read(doc, field);
  const fold = caseInsensitive || read.caseInsensitive === true;
  const norm = (v: unknown) => (fold ? String(v).toLowerCase() : String(v));
  const wanted = norm(value);
  const values = read.values.filter((v) => v !== null && v !== undefined).map(norm);
  switch (kind) {
    case 'term':
      return values.includes(wanted);
    case 'prefix':
      return values.some((v) => v.startsWith(wanted));
    case 'regexp': {
      const pattern = compile(String(value), fold);
      return values.some((v) => pattern.test(v));
    }
    case 'wildcard': {
      const pattern = new RegExp(`^${[...String(value)].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : escape(c))).join('')}$`, fold ? 'is' : 's');
      return values.some((v) => pattern.test(v));
    }
    default: {
      // match: every token of the query appears among the field's tokens (case-insensitive).
      const tokens = (s: string) => s.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
      const have = new Set(values.flatMap(tokens));
      return tokens(String(value)).every((t) => have.has(t));
    }
  }
}

function matchesTerms<D>(doc: D, body: unknown, ctx: SearchContext<D>): boolean {
  if (!isObject(body)) throw badRequest('Invalid query: terms takes {field: [values]}');
  const entries = Object.entries(body).filter(([k]) => k !== 'boost');
  if (entries.length !== 1 || !Array.isArray(entries[0]![1])) throw badRequest('Invalid query: terms takes {field: [values]}');
  const [field, wanted] = entries[0]! as [string, unknown[]];
  const read = ctx.read(doc, field);
  const norm = (v: unknown) => (read.caseInsensitive ? String(v).toLowerCase() : String(v));
  const values = new Set(read.values.map(norm));
  return wanted.some((w) => values.has(norm(w)));
}

function matchesRange<D>(doc: D, body: unknown, ctx: SearchContext<D>): boolean {
  if (!isObject(body)) throw badRequest('Invalid query: range takes {field: {gte, lte, ...}}');
  const entries = Object.entries(body);
  if (entries.length !== 1 || !isObject(entries[0]![1])) throw badRequest('Invalid query: range takes exactly one field');
  const [field, bounds] = entries[0]! as [string, Json];
  return ctx.read(doc, field).values.some((value) => {
    const v = comparable(value, ctx.now);
    if (v === undefined) return false;
    const check = (op: string, test: (c: number) => boolean) => {
      if (bounds[op] === undefined || bounds[op] === null) return true;
      const bound = comparable(bounds[op], ctx.now);
      if (bound === undefined) throw badRequest(`Invalid query: range ${op} on '${field}' is neither a number nor a date: ${JSON.stringify(bounds[op])}`);
      return test(compareValues(v, bound));
    };
    return check('gt', (c) => c > 0) && check('gte', (c) => c >= 0) && check('lt', (c) => c < 0) && check('lte', (c) => c <= 0);
  });
}

type Comparable = number | string;

/** Numbers stay numbers; ISO times and date math become epoch ms; other strings compare as strings. */
function comparable(value: unknown, now: number): Comparable | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return undefined;
  const math = dateMath(value, now);
  if (math !== undefined) return math;
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const t = Date.parse(value);
    if (!Number.isNaN(t)) return t;
  }
  return value;
}

function compareValues(a: Comparable, b: Comparable): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const [x, y] = [String(a), String(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, H: 3_600_000, d: 86_400_000, w: 604_800_000, M: 2_592_000_000, y: 31_536_000_000 };

/** `now`, `now-2h`, `now+1d/d` (rounding is ignored). */
function dateMath(value: string, now: number): number | undefined {
  const match = /^now((?:[+-]\d+[smhHdwMy])*)(?:\/[smhHdwMy])?$/.exec(value.trim());
  if (!match) return undefined;
  let t = now;
  for (const [, sign, n, unit] of match[1]!.matchAll(/([+-])(\d+)([smhHdwMy])/g)) t += (sign === '-' ? -1 : 1) * Number(n) * UNIT_MS[unit!]!;
  return t;
}

/** A Lucene regular expression (always anchored) as a JS one. */
function compile(pattern: string, caseInsensitive: boolean): RegExp {
  try {
    return new RegExp(`^(?:${pattern})$`, caseInsensitive ? 'is' : 's');
  } catch {
    throw badRequest(`Invalid query: not a regular expression the sandbox understands: ${pattern}`);
  }
}

function escape(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

interface SortKey {
  readonly field: string;
  readonly descending: boolean;
}

function sortKeys(sort: unknown): SortKey[] {
  if (sort === undefined || sort === null) return [];
  const items = Array.isArray(sort) ? sort : [sort];
  return items.map((item) => {
    if (typeof item === 'string') return { field: item, descending: false };
    if (!isObject(item) || Object.keys(item).length !== 1) throw badRequest(`Invalid sort: ${JSON.stringify(item)}`);
    const [field, spec] = Object.entries(item)[0]!;
    const order = typeof spec === 'string' ? spec : isObject(spec) ? spec.order : undefined;
    return { field, descending: String(order ?? 'asc').toLowerCase() === 'desc' };
  });
}

export interface SearchRequest {
  readonly query?: unknown;
  readonly post_filter?: unknown;
  readonly sort?: unknown;
  readonly from?: number;
  readonly size?: number;
}

/** Runs a search over `docs`: the total that match, and the page (with each hit's sort values). */
export function search<D>(docs: readonly D[], request: SearchRequest, ctx: SearchContext<D>, defaultSize = 10): { total: number; page: Array<{ doc: D; sort: unknown[] }> } {
  const hits = docs.filter((doc) => matches(doc, request.query, ctx) && matches(doc, request.post_filter, ctx));
  const keys = sortKeys(request.sort).filter((k) => k.field !== '_score');
  const first = (doc: D, field: string) => {
    const v = ctx.read(doc, field).values.find((x) => x !== null && x !== undefined);
    return v === undefined ? undefined : comparable(v, ctx.now);
  };
  const sorted = [...hits].sort((a, b) => {
    for (const key of keys) {
      const [x, y] = [first(a, key.field), first(b, key.field)];
      if (x === undefined && y === undefined) continue;
      if (x === undefined) return 1; // missing values last, in either order
      if (y === undefined) return -1;
      const c = compareValues(x, y);
      if (c !== 0) return key.descending ? -c : c;
    }
    // Ties keep insertion order, reversed when the first key sorts descending (newest first).
    const c = ctx.seq(a) - ctx.seq(b);
    return keys[0]?.descending ? -c : c;
  });
  const from = request.from ?? 0;
  const size = request.size ?? defaultSize;
  return {
    total: hits.length,
    page: sorted.slice(from, from + size).map((doc) => ({ doc, sort: keys.map((k) => first(doc, k.field) ?? null) })),
  };
}

/**
 * Reads a dotted field from a JSON document whose keys may themselves hold dots
 * (`metadata.labels.workflows.argoproj.io/phase`): at each level the longest key that matches wins.
 * A trailing `.keyword` is dropped when the document has no such key.
 */
export function readPath(source: unknown, field: string): unknown[] {
  const direct = walk(source, field.split('.'));
  if (direct.length > 0 || !field.endsWith('.keyword')) return direct;
  return walk(source, field.slice(0, -'.keyword'.length).split('.'));
}

function walk(value: unknown, parts: string[]): unknown[] {
  if (parts.length === 0) return Array.isArray(value) ? value.flat(Infinity) : [value];
  if (Array.isArray(value)) return value.flatMap((v) => walk(v, parts));
  if (!isObject(value)) return [];
  for (let n = parts.length; n >= 1; n--) {
    const key = parts.slice(0, n).join('.');
    if (Object.prototype.hasOwnProperty.call(value, key)) {
      const found = walk(value[key], parts.slice(n));
      if (found.length > 0) return found;
    }
  }
  return [];
}

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

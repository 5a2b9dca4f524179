/**
 * Request validation with the gateway's answers: it is a pydantic service, so a bad body is a 422
 * whose message reads like pydantic's ("Field required: items.0.credentials"). The sessions and RAW
 * APIs answer 400 instead; callers pass the status.
 */
import { HttpError } from '../http';

export type JsonObject = Record<string, unknown>;

export class Validator {
  constructor(private readonly status: 400 | 422 = 422) {}

  fail(message: string): never {
    throw new HttpError(this.status, message);
  }

  object(value: unknown, loc: string): JsonObject {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(`Input should be a valid dictionary: ${loc}`);
    return value as JsonObject;
  }

  /** Rejects keys outside `allowed` (additionalProperties: false). */
  only(obj: JsonObject, allowed: readonly string[]): void {
    // The reference quotes the message with the bare field name: "Extra inputs are not permitted: type".
    for (const key of Object.keys(obj)) if (!allowed.includes(key)) this.fail(`Extra inputs are not permitted: ${key}`);
  }

  required(obj: JsonObject, key: string, loc: string): unknown {
    if (obj[key] === undefined) this.fail(`Field required: ${join(loc, key)}`);
    return obj[key];
  }

  string(value: unknown, loc: string, min = 0, max = Infinity): string {
    if (typeof value !== 'string') this.fail(`Input should be a valid string: ${loc}`);
    if (value.length < min) this.fail(`String should have at least ${min} character${min === 1 ? '' : 's'}: ${loc}`);
    if (value.length > max) this.fail(`String should have at most ${max} characters: ${loc}`);
    return value;
  }

  boolean(value: unknown, loc: string): boolean {
    if (typeof value !== 'boolean') this.fail(`Input should be a valid boolean: ${loc}`);
    return value;
  }

  /** An integer in [min, max]; `max` may be left out when larger values are clamped by the caller. */
  integer(value: unknown, loc: string, min: number, max = Infinity): number {
    const n = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n)) this.fail(`Input should be a valid integer: ${loc}`);
    if (n < min) this.fail(`Input should be greater than or equal to ${min}: ${loc}`);
    if (n > max) this.fail(`Input should be less than or equal to ${max}: ${loc}`);
    return n;
  }

  oneOf<T extends string>(value: unknown, allowed: readonly T[], loc: string): T {
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      const list = allowed.map((a) => `'${a}'`);
      const text = list.length > 1 ? `${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}` : list[0];
      this.fail(`Input should be ${text}: ${loc}`);
    }
    return value as T;
  }

  /** `body.items` with between `min` and `max` entries. */
  items(body: JsonObject, min: number, max: number): unknown[] {
    const items = this.required(body, 'items', '');
    if (!Array.isArray(items)) this.fail('Input should be a valid list: items');
    if (items.length < min) this.fail(`List should have at least ${min} item${min === 1 ? '' : 's'} after validation, not ${items.length}: items`);
    if (items.length > max) this.fail(`List should have at most ${max} item${max === 1 ? '' : 's'} after validation, not ${items.length}: items`);
    return items;
  }

  /** The request body as an object; an empty body counts as `{}` when `optional`. */
  body(value: unknown, optional = false): JsonObject {
    if (value === undefined && optional) return {};
    if (value === undefined) this.fail('Field required: body');
    return this.object(value, 'body');
  }
}

function join(loc: string, key: string): string {
  return loc ? `${loc}.${key}` : key;
}

/** The pydantic-style validator of the gateway (422) and the CDF-style one of other APIs (400). */
export const gatewayInput = new Validator(422);
export const cdfInput = new Validator(400);

/** `true/false/yes/no/1/0` (any case), as the gateway's boolean query flags have been both. */
export function booleanFlag(value: string | null, name: string, fallback: boolean): boolean {
  if (value === null || value === '') return fallback;
  const v = value.trim().toLowerCase();
  if (['true', 'yes', '1'].includes(v)) return true;
  if (['false', 'no', '0'].includes(v)) return false;
  throw new HttpError(422, `Input should be a valid boolean, unable to interpret input: ${name}`);
}

/** Opaque cursors: the sort key of the last item returned, base64url-encoded. */
export function encodeCursor(lastKey: string): string {
  return Buffer.from(JSON.stringify({ after: lastKey }), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string | null | undefined, status: 400 | 422): string | undefined {
  if (cursor === null || cursor === undefined || cursor === '') return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof parsed.after === 'string') return parsed.after;
  } catch {
    // fall through
  }
  throw new HttpError(status, `Invalid cursor: ${cursor}`);
}

/** One page of `items` (already sorted by `key`) after the cursor. */
export function page<T>(items: readonly T[], key: (item: T) => string, limit: number, after: string | undefined): { items: T[]; nextCursor?: string } {
  const rest = after === undefined ? items : items.filter((item) => key(item) > after);
  const slice = rest.slice(0, limit);
  return rest.length > limit ? { items: slice, nextCursor: encodeCursor(key(slice[slice.length - 1]!)) } : { items: slice };
}

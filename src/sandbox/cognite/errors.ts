/**
 * CDF's error answers: the `{"error": {code, message, missing?, duplicated?}}` body, the messages
 * for requests that fail their schema, and client errors for values Postgres refuses.
 *
 * The PostgreSQL Gateway is a pydantic service, so its validation failures are 422s whose
 * messages read like pydantic's ("Field required: items.0.credentials"). The sessions and RAW APIs
 * answer 400; the sandbox words their messages the same way.
 */
import type { z } from 'zod';
import { HttpError } from '../errors';
import { route, type InputPart, type InputSchema, type InvalidInputFormatter, type Route, type RouteSpec } from '../http';

/** `{"error": {"code", "message", "missing"?, "duplicated"?}}`. */
export function cdfErrorBody(error: HttpError): unknown {
  const { missing, duplicated } = error.details as { missing?: unknown; duplicated?: unknown };
  return {
    error: {
      code: error.status,
      message: error.message,
      ...(missing !== undefined ? { missing } : {}),
      ...(duplicated !== undefined ? { duplicated } : {}),
    },
  };
}

/** The gateway's answer to a request that fails its schema: 422, pydantic wording. */
export const gatewayInvalidInput = pydanticStyle(422);
/** The sessions and RAW APIs' answer: 400, same wording. */
export const cdfInvalidInput = pydanticStyle(400);

/** Declares a PostgreSQL Gateway route: one whose invalid input is a 422. */
export function gatewayRoute<P extends InputSchema = undefined, Q extends InputSchema = undefined, B extends InputSchema = undefined, G = undefined>(
  spec: RouteSpec<P, Q, B, G>,
): Route {
  return route({ ...spec, invalidInput: gatewayInvalidInput });
}

/** Messages of at most this many issues, so a huge bad body gets a short answer. */
const MAX_ISSUES = 5;

function pydanticStyle(status: 400 | 422): InvalidInputFormatter {
  return (issues, part) => {
    // Some checks overlap (an integer's own range and ours), so say each thing once.
    const lines = [...new Set(issues.flatMap((issue) => describe(issue, part)))];
    const more = lines.length > MAX_ISSUES ? `; and ${lines.length - MAX_ISSUES} more` : '';
    return new HttpError(status, lines.slice(0, MAX_ISSUES).join('; ') + more);
  };
}

/** One issue as `<what is wrong>: <where>`; an unrecognized key is one line per key. */
function describe(issue: z.core.$ZodIssue, part: InputPart): string[] {
  // The gateway quotes extra inputs with the bare field name: "Extra inputs are not permitted: type".
  if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => `Extra inputs are not permitted: ${key}`);
  const loc = issue.path.length > 0 ? issue.path.map(String).join('.') : part;
  return [`${wording(issue)}: ${loc}`];
}

function wording(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'invalid_type':
      if (issue.expected === 'never') return issue.message; // `nothing(message)`
      if (input === undefined) return 'Field required';
      return `Input should be ${TYPE_NAMES[issue.expected] ?? `a valid ${issue.expected}`}`;
    case 'too_small':
      return bound(issue.origin, 'at least', 'greater than or equal to', issue.minimum, input);
    case 'too_big':
      return bound(issue.origin, 'at most', 'less than or equal to', issue.maximum, input);
    case 'invalid_value':
      return `Input should be ${alternatives(issue.values.map((v) => `'${String(v)}'`))}`;
    default:
      // Custom checks, unions and formats carry their own message.
      return issue.message;
  }
}

const TYPE_NAMES: Record<string, string> = {
  object: 'a valid dictionary',
  record: 'a valid dictionary',
  array: 'a valid list',
  string: 'a valid string',
  boolean: 'a valid boolean',
  number: 'a valid number',
  int: 'a valid integer',
  bigint: 'a valid integer',
};

function bound(origin: string, words: string, comparison: string, limit: number | bigint, input: unknown): string {
  const n = Number(limit);
  const plural = (noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
  if (origin === 'array' || origin === 'set') {
    return `List should have ${words} ${plural('item')} after validation${Array.isArray(input) ? `, not ${input.length}` : ''}`;
  }
  if (origin === 'string') return `String should have ${words} ${plural('character')}`;
  return `Input should be ${comparison} ${n}`;
}

function alternatives(list: readonly string[]): string {
  return list.length > 1 ? `${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}` : (list[0] ?? 'nothing');
}

/**
 * Values Postgres refuses (NUL bytes, numbers out of range, too many columns) are the caller's
 * fault: a 400, never a 500. Schemas catch these first; this is the net under them.
 */
export function clientErrorFromPostgres(error: unknown): HttpError | undefined {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return undefined;
  // Class 22: data exception; 54: program limit exceeded; 42622: name too long.
  if (code.startsWith('22') || code.startsWith('54') || code === '42622') {
    return new HttpError(400, `Invalid input: ${(error as Error).message}`);
  }
  return undefined;
}

/**
 * Zod building blocks for CDF request schemas. Strings never hold NUL (Postgres text cannot),
 * names that become Postgres identifiers stay within 63 bytes, and numbers stay within what a
 * bigint holds, so bad input is a 4xx before it reaches the database.
 */
import * as z from 'zod';
import { decodeCursor } from './paging';

/** Postgres truncates longer identifiers silently, so two long names could collide. */
export const MAX_IDENTIFIER_BYTES = 63;

const noNul = (value: string) => !value.includes('\0');
const NUL_MESSAGE = 'String should not contain the NUL character';

/** A string of `min`-`max` characters without NUL. */
export function text(min = 0, max?: number) {
  let schema = z.string().min(min);
  if (max !== undefined) schema = schema.max(max);
  return schema.refine(noNul, NUL_MESSAGE);
}

/** A name that becomes a Postgres identifier: 1-`maxChars` characters, at most 63 bytes, no NUL. */
export function identifier(maxChars?: number) {
  return text(1, maxChars).refine((value) => Buffer.byteLength(value) <= MAX_IDENTIFIER_BYTES, {
    message: `String should have at most ${MAX_IDENTIFIER_BYTES} bytes (PostgreSQL's limit for names)`,
  });
}

/** `items`: a list of `min`-`max` entries. */
export function items<T extends z.ZodType>(item: T, min: number, max: number) {
  return z.array(item).min(min).max(max);
}

/** An integer in [min, max]; digit strings count too, as in pydantic's lax mode. */
export function integer(min: number, max: number = Number.MAX_SAFE_INTEGER) {
  return z.preprocess(
    (value) => (typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value),
    z.number().int().min(min).max(max),
  );
}

/** `true/false/yes/no/1/0` (any case), as the gateway's boolean query flags have been both. */
export function flag(fallback: boolean) {
  return z
    .string()
    .optional()
    .transform((value, ctx) => {
      const v = value?.trim().toLowerCase();
      if (v === undefined || v === '') return fallback;
      if (['true', 'yes', '1'].includes(v)) return true;
      if (['false', 'no', '0'].includes(v)) return false;
      ctx.addIssue({ code: 'custom', message: 'Input should be a valid boolean, unable to interpret input' });
      return z.NEVER;
    });
}

/** An optional cursor made by `encodeCursor`, parsed to the key it continues after. */
export const cursor = z
  .string()
  .nullish()
  .transform((value, ctx) => {
    if (value === null || value === undefined || value === '') return undefined;
    const after = decodeCursor(value);
    if (after === undefined || after.includes('\0')) {
      ctx.addIssue({ code: 'custom', message: `Invalid cursor: ${value}` });
      return z.NEVER;
    }
    return after;
  });

/**
 * An object validated by the schema `choose` picks from its keys (CDF's "one of these shapes"
 * bodies), so a near miss gets that shape's precise issues rather than a vague union error.
 */
export function variant<T extends z.ZodType>(choose: (value: Record<string, unknown>) => T) {
  return z.record(z.string(), z.unknown()).transform((value, ctx): z.output<T> => {
    const parsed = choose(value).safeParse(value, { reportInput: true });
    if (parsed.success) return parsed.data as z.output<T>;
    // Re-raised here, the issues' paths continue this value's path.
    for (const issue of parsed.error.issues) ctx.addIssue({ ...issue } as Parameters<typeof ctx.addIssue>[0]);
    return z.NEVER;
  });
}

/** A schema nothing passes, for `variant` when no shape fits: its issue is `message`. */
export function nothing(message: string) {
  return z.never({ error: message });
}

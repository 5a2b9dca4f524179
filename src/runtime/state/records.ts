/**
 * Validation of state records as they are read back. A record that does not parse is reported as
 * corrupt, with where it is and how to repair it: treating it as "missing" would make the next
 * apply create a second remote object and lose track of the first.
 */
import * as z from 'zod';
import type { ResourceRecord } from './store';

// Records are read from JSON text (a file, or jsonb), so every value is JSON already: not walked
// again (z.json() would be, value by value).
const json = z.unknown();
const jsonObject = z.record(z.string(), json);

/**
 * Objects are loose (unknown keys pass through), so a record written by a newer pgstacks with
 * extra fields still reads, and is written back with them.
 */
const specSchema = z.looseObject({
  type: z.string().min(1),
  stack: z.string().min(1),
  id: z.string().min(1),
  props: jsonObject,
  removalPolicy: z.enum(['destroy', 'retain']),
  // Defaults as in the synthesized spec (src/runtime/spec.ts), where these may be left out.
  allowReplacement: z.boolean().default(false),
  aliases: z.array(z.string()).default([]),
});

/** How a sealing key was derived from the state key (secrets.ts). */
const kdfSchema = z.enum(['scrypt', 'hkdf-sha256']);

const sealedSecretsSchema = z.discriminatedUnion('encrypted', [
  z.looseObject({ encrypted: z.literal(false), values: z.record(z.string(), z.string()) }),
  z.looseObject({
    encrypted: z.literal(true),
    names: z.array(z.string()),
    alg: z.literal('aes-256-gcm'),
    kdf: kdfSchema,
    salt: z.string(),
    iv: z.string(),
    tag: z.string(),
    data: z.string(),
  }),
]);

/** The schema of a stored {@link ResourceRecord}. */
export const resourceRecordSchema = z.looseObject({
  stack: z.string().min(1),
  id: z.string().min(1),
  type: z.string().min(1),
  status: z.enum(['creating', 'ready', 'deleting']),
  physicalId: z.string().optional(),
  spec: specSchema,
  props: jsonObject,
  outputs: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
  secretOutputs: sealedSecretsSchema.optional(),
  secretFingerprints: z
    .looseObject({ salt: z.string(), keyed: z.literal(true).optional(), kdf: kdfSchema.optional(), values: z.record(z.string(), z.string()) })
    .optional(),
  dependencies: z.array(z.string()),
  checkpoint: json.optional(),
  pendingDeletes: z.array(z.looseObject({ physicalId: z.string(), props: jsonObject })).optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  handlerVersion: z.string(),
});

/** Which record is being read, and from where (for messages). */
export interface RecordLocation {
  readonly stack: string;
  /** The logical id. */
  readonly id: string;
  /** e.g. a file path, or `table pgstacks.records row ('my-stack', 'db/main')`. */
  readonly location: string;
}

/** A stored record that cannot be read: the message says which, where, what is wrong and how to repair it. */
export class CorruptRecordError extends Error {
  /** The record and where it is (not `stack`: that is Error's stack trace). */
  readonly where: RecordLocation;
  /** What is wrong, in a few words. */
  readonly problem: string;

  constructor(where: RecordLocation, problem: string, physicalId?: string) {
    const cmd = (...words: string[]) => `\`pgstacks ${words.map(shellWord).join(' ')}\``;
    const importCmd = physicalId
      ? cmd('state', 'import', where.stack, where.id, physicalId)
      : `${cmd('state', 'import', where.stack, where.id).slice(0, -1)} <physical id>\` (the physical id is in the service's console or an older backup)`;
    super(
      `corrupt state record for logical id '${where.id}' in stack '${where.stack}' (${where.location}): ${problem}. ` +
        `To repair it, restore the record from a backup, or forget it with ${cmd('state', 'rm', where.stack, where.id)} ` +
        `and then adopt the remote object again with ${importCmd}.`,
    );
    this.name = 'CorruptRecordError';
    this.where = { stack: where.stack, id: where.id, location: where.location };
    this.problem = problem;
  }
}

/**
 * Validates a record already decoded from JSON (e.g. a jsonb column). Throws
 * {@link CorruptRecordError} for anything that is not a whole record of `where.stack`/`where.id`.
 */
export function parseRecord(raw: unknown, where: RecordLocation): ResourceRecord {
  const physicalId = isPlainObject(raw) && typeof raw.physicalId === 'string' ? raw.physicalId : undefined;
  const fail = (problem: string): never => {
    throw new CorruptRecordError(where, problem, physicalId);
  };
  if (raw === null) fail('it is null, not a record');
  if (Array.isArray(raw)) fail(`it is an array${raw.length ? '' : ' ([])'}, not a record`);
  if (!isPlainObject(raw)) fail(`it is ${typeof raw === 'string' ? 'a string' : `a ${typeof raw}`}, not a record`);
  if (Object.keys(raw as object).length === 0) fail('it is an empty object ({})');

  const result = resourceRecordSchema.safeParse(raw, { reportInput: true });
  if (!result.success) fail(describeIssues(result.error.issues));
  const record = result.data as ResourceRecord;
  // A record copied or moved under another name would be applied to the wrong resource.
  if (record.stack !== where.stack || record.id !== where.id) {
    fail(`it belongs to logical id '${record.id}' in stack '${record.stack}'`);
  }
  return record;
}

/** Parses a record's JSON text (a state file); empty or truncated text is a {@link CorruptRecordError} too. */
export function parseRecordText(text: string, where: RecordLocation): ResourceRecord {
  if (text.trim() === '') throw new CorruptRecordError(where, 'it is empty');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    // A truncated file may still show the physical id, which is what re-importing needs.
    const physicalId = /"physicalId"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(text)?.[1];
    // V8 quotes a snippet of the text in some messages; it could be a secret output.
    const reason = (err as Error).message.replace(/, (\.\.\.)?"[\s\S]* is not valid JSON$/, '');
    throw new CorruptRecordError(where, `it is not valid JSON (truncated?): ${reason}`, physicalId && safeJsonString(physicalId));
  }
  return parseRecord(raw, where);
}

/** The zod issues, one short phrase each: `type: missing`, `status: expected one of ... (got "done")`. */
function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  const MAX = 6;
  const phrases = issues.slice(0, MAX).map((issue) => {
    const at = issue.path.length ? formatPath(issue.path) : 'record';
    if (issue.input === undefined) return `${at}: missing`;
    const message = issue.message.replace(/^Invalid (input|option): /, '').replace(/, received \w+$/, '');
    // Never echo what may be a secret value.
    const secret = issue.path[0] === 'secretOutputs' || issue.path[0] === 'secretFingerprints';
    return `${at}: ${message}${secret ? '' : ` (got ${describeValue(issue.input)})`}`;
  });
  if (issues.length > MAX) phrases.push(`and ${issues.length - MAX} more`);
  return phrases.join('; ');
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i ? '.' : ''}${String(key)}`))
    .join('');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function safeJsonString(escaped: string): string | undefined {
  try {
    return JSON.parse(`"${escaped}"`) as string;
  } catch {
    return undefined;
  }
}

/** Quotes a word for a POSIX shell when it needs it, so the repair commands can be pasted. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

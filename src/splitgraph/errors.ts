/**
 * The engine's failures, one factory per kind: each message says what happened (with the values),
 * why it matters and how to fix it, so a construct or CLI can show it as is.
 */

/** What kind of failure a {@link SplitgraphError} is, for callers that react to some of them. */
export type SplitgraphErrorCode =
  | 'not-initialized'
  | 'invalid-argument'
  | 'not-found'
  | 'pending-changes'
  | 'transaction-state'
  | 'conflict'
  | 'corrupt-object';

/** Every error the engine raises on purpose; database errors pass through unchanged. */
export class SplitgraphError extends Error {
  constructor(
    /** The kind of failure. */
    readonly code: SplitgraphErrorCode,
    message: string,
    /** Extra facts about the failure (e.g. the number of pending rows), for programs. */
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = 'SplitgraphError';
  }
}

export function notInitialized(what: string): SplitgraphError {
  return new SplitgraphError(
    'not-initialized',
    `${what} has no Splitgraph engine (schema splitgraph_meta is missing)\n` +
      'The engine keeps its metadata, objects and change log in its own schemas.\n' +
      'Run initializeEngine(client) on that database first.',
  );
}

export function missingFdw(): SplitgraphError {
  return new SplitgraphError(
    'not-initialized',
    'the local database has no postgres_fdw extension, which push and pull use to copy objects server to server\n' +
      'It is not a trusted extension, so initializeEngine installs it only when its role may (a superuser).\n' +
      'Have a superuser run CREATE EXTENSION postgres_fdw SCHEMA splitgraph_meta in that database, or push and pull from another engine.',
  );
}

export function invalidArgument(message: string, details: Record<string, unknown> = {}): SplitgraphError {
  return new SplitgraphError('invalid-argument', message, details);
}

export function notFound(what: string, hint: string): SplitgraphError {
  return new SplitgraphError('not-found', `${what} does not exist\n${hint}`);
}

export function pendingChanges(what: string, rows: number, fix: string): SplitgraphError {
  return new SplitgraphError(
    'pending-changes',
    `${what} has ${rows} pending changed row${rows === 1 ? '' : 's'} that are not committed\n` +
      `Going on would lose them. ${fix}`,
    { rows },
  );
}

export function uncommittedTable(table: string): SplitgraphError {
  return new SplitgraphError(
    'pending-changes',
    `table ${table} is not committed, or changed in ways its change log cannot show (truncated, untracked or altered)\n` +
      'Checking out would lose it. Commit it first, or pass { force: true } to lose it.',
    { rows: null },
  );
}

export function failedTransaction(): SplitgraphError {
  return new SplitgraphError(
    'transaction-state',
    "the client's transaction has failed, so no statement can run in it\nRoll it back (ROLLBACK) before calling the engine.",
  );
}

export function needsTransaction(what: string): SplitgraphError {
  return new SplitgraphError(
    'transaction-state',
    `${what} holds only until the transaction ends, and the client is not in one\nRun BEGIN first (and COMMIT when done).`,
  );
}

export function needsAutocommit(what: string): SplitgraphError {
  return new SplitgraphError(
    'transaction-state',
    `${what} must commit on its own, and the client is inside a transaction\n` +
      'The other server reads only committed data. Call it outside BEGIN … COMMIT.',
  );
}

export function conflict(message: string): SplitgraphError {
  return new SplitgraphError('conflict', message);
}

export function corruptObject(objectId: string, why: string): SplitgraphError {
  return new SplitgraphError('corrupt-object', `object ${objectId} is corrupt: ${why}\nDump it again from an engine that holds a good copy.`);
}

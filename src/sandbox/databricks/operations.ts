/**
 * Long-running operations. Every create, update and delete answers with an Operation named
 * `<resource name>/operations/<id>` and `done: false`; `GET /api/2.0/postgres/<operation name>`
 * reports it done once its duration has passed on the injected clock, with the resource (shaped as
 * GET returns it) or `google.protobuf.Empty` as `response`, or an `error`. Operations live in the
 * state database, so a client that restarts can go on polling one by name.
 *
 * The change itself is applied when the operation starts (the sandbox's Postgres work is fast); the
 * duration models only how long the service takes to say so, and while it runs the branch refuses
 * other changes to its endpoints, roles and databases. An operation is done once the duration it
 * started with has passed, or a shorter one set for its kind since: lowering the duration (to 0,
 * say) finishes the operations already running; raising it changes only later ones.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock';
import type { PostgresServer } from '../postgres';
import { conflictingOperations, type ErrorJson } from './errors';
import type { Busy, Kind } from './model';

export type OperationKind = Kind;
export const OPERATION_KINDS: readonly OperationKind[] = ['project', 'branch', 'endpoint', 'role', 'database', 'catalog', 'synced_table'];
export type OperationAction = 'create' | 'update' | 'delete' | 'undelete';

const METADATA_TYPES: Record<OperationKind, string> = {
  project: 'Project',
  branch: 'Branch',
  endpoint: 'Endpoint',
  role: 'Role',
  database: 'Database',
  catalog: 'Catalog',
  synced_table: 'SyncedTable',
};

const EMPTY = { '@type': 'type.googleapis.com/google.protobuf.Empty' };

/** An operation as the API returns it. */
export interface OperationJson {
  readonly name: string;
  readonly metadata: { readonly '@type': string };
  readonly done: boolean;
  readonly response?: unknown;
  readonly error?: ErrorJson;
}

/** A failure an operation reports instead of succeeding (a test hook). */
export interface OperationFailure {
  /** @default 'INTERNAL_ERROR' */
  readonly errorCode?: string;
  /** @default 'The operation failed (injected by the sandbox).' */
  readonly message?: string;
}

interface OperationRow {
  name: string;
  kind: OperationKind;
  action: OperationAction;
  resource: string;
  created_at: string;
  delay_ms: string;
  mark: string;
  snapshot: unknown;
  error: ErrorJson | null;
}

export interface OperationStart {
  readonly kind: OperationKind;
  readonly action: OperationAction;
  /** The resource's name; the operation is named below it. */
  readonly resource: string;
  /** The branch the change belongs to, for the one-change-at-a-time rule. */
  readonly branch?: string;
}

export class Operations {
  /** Every duration set for each kind in this run, in order: the first is the configured one. */
  private readonly history: Map<OperationKind, Array<{ readonly at: number; readonly delay: number; readonly seq: number }>>;
  /** This run of the sandbox, so operations from an earlier run count every duration set in this one as later. */
  private readonly run = randomUUID();
  private seq = 0;
  private readonly failures = new Map<OperationKind, OperationFailure[]>();

  constructor(
    private readonly pg: PostgresServer,
    private readonly clock: Clock,
    defaultDelayMs: number,
    perKind: Partial<Record<OperationKind, number>> = {},
  ) {
    const now = clock.now();
    this.history = new Map(OPERATION_KINDS.map((kind) => [kind, [{ at: now, delay: perKind[kind] ?? defaultDelayMs, seq: ++this.seq }]]));
  }

  /** How long operations of `kind` (or every kind) take; a shorter duration also cuts those already running short. */
  setDelay(kind: OperationKind | 'all', ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new Error(`an operation delay is a number of milliseconds >= 0; got ${ms}`);
    const at = this.clock.now();
    const seq = ++this.seq;
    for (const k of kind === 'all' ? OPERATION_KINDS : [kind]) this.history.get(k)!.push({ at, delay: ms, seq });
  }

  delayOf(kind: OperationKind): number {
    const history = this.history.get(kind)!;
    return history[history.length - 1]!.delay;
  }

  /** The next operation of `kind` fails with `failure` and changes nothing. */
  failNext(kind: OperationKind, failure: OperationFailure = {}): void {
    this.failures.set(kind, [...(this.failures.get(kind) ?? []), failure]);
  }

  /** 409 ABORTED while an operation on the branch has not finished. */
  async assertBranchIdle(branch: string): Promise<void> {
    const now = this.clock.now();
    // An operation finishes at the latest after the duration it started with.
    const recent = await this.pg.state.query('SELECT * FROM databricks.operations WHERE branch = $1 AND created_at + delay_ms > $2 AND error IS NULL', [branch, now]);
    const running = (recent.rows as OperationRow[]).some((row) => now < this.doneAt(busyOf(row)));
    if (running) throw conflictingOperations();
  }

  /**
   * Starts an operation: unless a failure is queued for its kind, `apply` makes the change (a
   * thrown HttpError answers the request instead, and no operation exists) and returns the
   * resource to report if it is gone before someone polls. Answers `done: false`.
   */
  async start(op: OperationStart, apply: () => Promise<unknown>): Promise<OperationJson> {
    const queued = this.failures.get(op.kind);
    const failure = queued?.shift();
    let snapshot: unknown = null;
    let error: ErrorJson | null = null;
    if (failure) {
      error = {
        error_code: failure.errorCode ?? 'INTERNAL_ERROR',
        message: failure.message ?? 'The operation failed (injected by the sandbox).',
        details: [{ '@type': 'type.googleapis.com/google.rpc.RequestInfo', request_id: randomUUID(), serving_data: '' }],
      };
    } else {
      snapshot = (await apply()) ?? null;
    }
    const now = this.clock.now();
    const name = `${op.resource}/operations/${randomUUID()}`;
    await this.pg.state.query(
      `INSERT INTO databricks.operations (name, kind, action, resource, branch, created_at, delay_ms, mark, snapshot, error)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [name, op.kind, op.action, op.resource, op.branch ?? null, now, this.delayOf(op.kind), this.mark(), JSON.stringify(snapshot), error && JSON.stringify(error)],
    );
    return { name, metadata: metadata(op.kind), done: false };
  }

  /** An operation of `kind` starting now, for a resource to wait on. */
  busy(kind: OperationKind): Busy {
    return { kind, since: this.clock.now(), delay: this.delayOf(kind), mark: this.mark() };
  }

  private mark(): string {
    return `${this.run}:${this.seq}`;
  }

  /**
   * When an operation finishes: after the duration it started with, unless a shorter one set for
   * its kind later ran out first. Durations set later only add to the history, so a finished
   * operation stays finished.
   */
  doneAt(busy: Busy): number {
    const [run, seq] = busy.mark.split(':');
    const later = this.history.get(busy.kind)!.filter((set) => run !== this.run || set.seq > Number(seq));
    const segments = [{ from: busy.since, delay: busy.delay }, ...later.map((set) => ({ from: Math.max(set.at, busy.since), delay: set.delay }))];
    for (let i = 0; i < segments.length; i++) {
      const { from, delay } = segments[i]!;
      const until = segments[i + 1]?.from ?? Infinity;
      const finish = Math.max(from, busy.since + delay);
      if (finish <= until) return finish;
    }
    return Infinity;
  }

  /**
   * The operation by name, `undefined` if there is none. A finished one carries `response`: `view`
   * gives the resource's current form, else the snapshot taken when it started.
   */
  async get(name: string, view: (kind: OperationKind, resource: string) => Promise<unknown>): Promise<OperationJson | undefined> {
    const found = await this.pg.state.query('SELECT * FROM databricks.operations WHERE name = $1', [name]);
    const row = found.rows[0] as OperationRow | undefined;
    if (!row) return undefined;
    const base = { name: row.name, metadata: metadata(row.kind) };
    if (this.clock.now() < this.doneAt(busyOf(row))) return { ...base, done: false };
    if (row.error) return { ...base, done: true, error: row.error };
    if (row.action === 'delete') return { ...base, done: true, response: EMPTY };
    return { ...base, done: true, response: (await view(row.kind, row.resource)) ?? row.snapshot ?? {} };
  }
}

function busyOf(row: OperationRow): Busy {
  return { kind: row.kind, since: Number(row.created_at), delay: Number(row.delay_ms), mark: row.mark };
}

function metadata(kind: OperationKind): { '@type': string } {
  return { '@type': `type.googleapis.com/databricks.postgres.v1.${METADATA_TYPES[kind]}OperationMetadata` };
}

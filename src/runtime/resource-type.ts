/**
 * A resource type: the props schema and the handler of one kind of remote object. Defined once
 * (src/resources/<service>/<kind>.ts) and used by both its construct (synth-time validation,
 * attribute names) and the handler bundle (lifecycle calls).
 */
import type { z } from 'zod';
import type { Json, RemovalPolicyName } from './spec';

export type OutputValue = string | number | boolean | null;
export type Outputs = Record<string, OutputValue>;

/** What a handler gets besides its props. */
export interface HandlerContext {
  readonly stack: string;
  readonly logicalId: string;
  /** Prints one progress line (secrets are redacted). */
  log(message: string): void;
  /**
   * Persists crash-recovery data into the intent record before a call that cannot be retried
   * blindly; an interrupted attempt's data comes back to `adopt` as `recovery`.
   */
  checkpoint(data: Json): Promise<void>;
  /** Checkpoint data left by an interrupted create, if any. */
  readonly recovery?: Json;
  /** Marks a value learned at deploy time (e.g. a generated password) as secret for the logs. */
  redact(value: string): void;
  /** Aborted when the resource's deadline passes. */
  readonly signal: AbortSignal;
  /**
   * In `adopt`: the object is looked for only to be deleted (its construct was removed after an
   * interrupted create), so find it and finish nothing.
   */
  readonly removing?: boolean;
  /** The outputs recorded by the last apply (in `read`, `update` and `delete`). */
  readonly recorded?: Outputs;
  /** In `update`: the dotted paths of the props that changed (a changed secret value included). */
  readonly changes: readonly string[];
}

export interface CreateResult<O extends Outputs = Outputs> {
  readonly physicalId: string;
  readonly outputs: O;
  /** Stored in the state store only (encrypted when PGSTACKS_STATE_KEY is set), never printed. */
  readonly secretOutputs?: Record<string, string>;
}

export interface ReadResult<O extends Outputs = Outputs> {
  readonly outputs: O;
  /** What the remote object looks like now, for diagnostics. */
  readonly observed?: unknown;
  /**
   * Dotted prop paths whose remote value differs from the props it was read with (changed outside
   * pgstacks). The engine plans them as changes, so the next apply puts them back.
   */
  readonly drift?: readonly string[];
}

export interface UpdateResult<O extends Outputs = Outputs> {
  readonly outputs: O;
  readonly secretOutputs?: Record<string, string>;
}

export interface ResourceType<P = any, O extends Outputs = Outputs> {
  /** Unique name, `<service>:<kind>`, e.g. `cognite:gateway-user`. */
  readonly name: string;
  /** The file that defines the type (pass `__filename`), so the handler bundle can include it. */
  readonly module: string;
  /** Validates and normalizes props; the same schema runs at synth and at apply. */
  readonly schema: z.ZodType<P>;
  /** Output names other resources may reference. */
  readonly attributes: readonly string[];
  /**
   * Outputs an in-place update never changes (names, ids, hosts). While planning, a reference to
   * one of them stays known when the resource it belongs to is updated in the same run, so its
   * dependents are not planned as changed. @default none: every output may change
   */
  readonly stableAttributes?: readonly string[];
  /** Output names kept as secret outputs. They can be referenced too, and are never printed. */
  readonly secretAttributes?: readonly string[];
  /**
   * Props whose change means replacement (dotted paths; a parent path covers its children;
   * `'*'` = every prop). Everything else is updated in place by `update`.
   */
  readonly immutable: readonly string[];
  /** Whether a replacement creates the new object first (unique names forbid it). */
  readonly replaceOrder: 'create-before-delete' | 'delete-before-create';
  readonly defaultRemovalPolicy: RemovalPolicyName;
  /**
   * How many resources of this type one request can serve, when the handler's client coalesces
   * concurrent calls (clients/batch.ts): the engine then works on that many at once for each unit
   * of its parallelism, so that the requests, not the resources, are what the parallelism bounds.
   * @default 1
   */
  readonly itemsPerCall?: number;

  create(props: P, ctx: HandlerContext): Promise<CreateResult<O>>;
  /** `undefined` means the object is gone. */
  read(physicalId: string, props: P, ctx: HandlerContext): Promise<ReadResult<O> | undefined>;
  /** Applies a change of mutable props. Required unless every prop is immutable. */
  update?(physicalId: string, oldProps: P, newProps: P, ctx: HandlerContext): Promise<UpdateResult<O>>;
  /** Idempotent: an object that is already gone counts as deleted. */
  delete(physicalId: string, props: P, ctx: HandlerContext): Promise<void>;
  /** Finds what an interrupted create made (by natural key or `ctx.recovery`). */
  adopt?(props: P, ctx: HandlerContext): Promise<CreateResult<O> | undefined>;
  /**
   * The name that identifies the remote object where the service makes names unique (a table's
   * user and name), if the type has one. A construct renamed without an alias that declares the
   * same natural key takes the old record over instead of deleting and recreating the object.
   */
  naturalKey?(props: P): string | undefined;
  /**
   * Starts, without waiting, what the resource's first call will need and that changes nothing
   * remotely (an access token), while the engine plans the rest of the stack. Called while
   * planning an apply, for each resource that will be created, updated or replaced and whose props
   * are known; the client shares what it gets (the token cache is per identity), so the first call
   * finds it ready. A failure is left for that call to report.
   */
  warmUp?(props: P, log: (message: string) => void): void;
}

const REGISTRY = Symbol.for('pgstacks.resourceTypes');
type Registry = Map<string, ResourceType>;

function registry(): Registry {
  const g = globalThis as { [REGISTRY]?: Registry };
  return (g[REGISTRY] ??= new Map());
}

/** Defines a resource type and registers it with the handler. */
export function defineResourceType<P, O extends Outputs>(type: ResourceType<P, O>): ResourceType<P, O> {
  if (!/^[a-z][a-z0-9-]*:[a-z][a-z0-9-]*$/.test(type.name)) {
    throw new Error(`resource type name '${type.name}' must look like '<service>:<kind>' (lowercase)`);
  }
  if (!type.update && !type.immutable.includes('*')) {
    throw new Error(`resource type ${type.name} has no update handler, so its immutable list must be ['*']`);
  }
  registry().set(type.name, type as ResourceType);
  return type;
}

/**
 * A module a resource type loads on first use and keeps: constructs import the resource types for
 * their schemas at synth, and synth must not load HTTP clients. Kept, because in the handler's
 * bundle each `require` of a bundled module copies its exports anew (a client module's, on every
 * call of every resource, was ~7 ms of an engine run over 100 resources).
 */
export function loadedOnFirstUse<T>(load: () => T): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= load());
}

export function getResourceType(name: string): ResourceType | undefined {
  return registry().get(name);
}

export function registeredTypeNames(): string[] {
  return [...registry().keys()].sort();
}

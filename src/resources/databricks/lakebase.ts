/**
 * The lifecycle every Lakebase resource shares, so each kind (project.ts, branch.ts, …) only
 * declares its wire shape: its collection and id parameter, its parent, how props map to `spec`
 * fields and to `update_mask` paths, and its outputs.
 *
 * - Creates, updates and deletes answer long-running operations, awaited with the kit's helper
 *   (src/runtime/operations.ts): backoff, progress lines, the resource's deadline, and a run killed
 *   mid-poll resumes the same operation on the next apply (`adopt`).
 * - Lakebase allows one change at a time per branch; a change refused for "conflicting operations"
 *   (or an endpoint still reconciling) waits and is sent again until the deadline.
 * - Objects a parent makes itself (a project's `production` branch, a branch's `primary` endpoint
 *   and `databricks-postgres` database) are adopted with `replace_existing` when declared.
 * - Deleting an object the service manages through its parent (MANAGED_BY_PARENT) leaves it to the
 *   parent's own deletion instead of failing.
 * - GET answers `status`, not `spec`: outputs and drift are read from `status`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { z } from 'zod';
import type { DatabricksClient, LakebaseObject, LakebaseOperation } from '../../clients/databricks';
import type { Query } from '../../clients/json-api';
import { awaitOperation, resumeOperation } from '../../runtime/operations';
import { defineResourceType, type CreateResult, type HandlerContext, type Outputs, type ResourceType } from '../../runtime/resource-type';
import type { RemovalPolicyName } from '../../runtime/spec';
import { databricksApi, databricksClient, type WorkspaceProps } from './workspace';

/** Props every Lakebase kind has. */
export interface LakebaseProps {
  readonly workspace: WorkspaceProps;
  /** Take over an object of the same name that already exists instead of failing. */
  readonly replaceExisting?: boolean;
}

/** One prop and the `spec` field it becomes. */
export interface LakebaseField<P> {
  readonly prop: Extract<keyof P, string>;
  /** Its key in the wire `spec`, e.g. `display_name`. */
  readonly wire: string;
  /** The `update_mask` path that changes it. Absent: it cannot change in place (list it as immutable). */
  readonly mask?: string;
  /** The service takes a mask per changed leaf (`spec.attributes.createdb`) rather than the whole object. */
  readonly leafMask?: boolean;
  /** Prop value → wire value (durations as `"300s"`, maps as lists). @default as it is */
  readonly encode?: (value: any) => unknown;
  /** Whether `status` reports the field the same way, so a difference is drift. @default true */
  readonly observed?: boolean;
}

export interface LakebaseKind<P extends LakebaseProps, O extends Outputs> {
  /** `databricks:lakebase-<kind>`. */
  readonly name: string;
  readonly module: string;
  readonly schema: z.ZodType<P>;
  /** What one is called in messages, e.g. `branch`. */
  readonly noun: string;
  /** The collection below the parent, e.g. `branches`. */
  readonly collection: string;
  /** The query parameter carrying the id on create, e.g. `branch_id`. */
  readonly idParam: string;
  /** The parent's resource name (`projects/p`), or `undefined` for a top-level collection. */
  parent(props: P): string | undefined;
  id(props: P): string;
  readonly fields: ReadonlyArray<LakebaseField<P>>;
  /** `spec` fields that follow from others (a branch with no expiry says `no_expiry`). */
  specDefaults?(props: P): Record<string, unknown>;
  /** Fields beside `spec` sent on create only (a project's `initial_endpoint_spec`). */
  createOnly?(props: P): Record<string, unknown>;
  readonly attributes: ReadonlyArray<Extract<keyof O, string>>;
  /** Outputs an update in place never changes. @default the name and the id */
  readonly stableAttributes?: ReadonlyArray<Extract<keyof O, string>>;
  outputs(object: LakebaseObject, props: P): O;
  readonly immutable: readonly string[];
  readonly defaultRemovalPolicy: RemovalPolicyName;
  /** Whether the parent makes this object itself (a project's `production` branch): declaring it adopts it. */
  isImplicit?(props: P): boolean;
  /** What to tell a user whose create clashed with an object of another name (one read-write endpoint per branch). */
  clashHint?(props: P): string | undefined;
  deleteQuery?(props: P): Query;
  /**
   * Whether the object is ready once its operation is done (a synced table ONLINE, an endpoint
   * with no pending state); the handler polls GET until it is. @default ready at once
   */
  ready?(object: LakebaseObject): boolean | { failed: string };
}

/** The object's full resource name, e.g. `projects/p/branches/b`. */
export function resourceName<P extends LakebaseProps>(kind: LakebaseKind<P, any>, props: P): string {
  const parent = kind.parent(props);
  return `${parent ? `${parent}/` : ''}${kind.collection}/${kind.id(props)}`;
}

/** The `spec` object for props. */
export function specOf<P extends LakebaseProps>(kind: Pick<LakebaseKind<P, any>, 'fields' | 'specDefaults'>, props: P): Record<string, unknown> {
  const spec: Record<string, unknown> = { ...kind.specDefaults?.(props) };
  for (const field of kind.fields) {
    const value = props[field.prop];
    if (value !== undefined) spec[field.wire] = field.encode ? field.encode(value) : value;
  }
  return spec;
}

/** `snake_case` of a camelCase key. */
export const snake = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
/** Seconds as a protobuf duration string. */
export const duration = (seconds: number): string => `${seconds}s`;

const statusOf = (object: LakebaseObject): Record<string, unknown> => (object.status ?? {}) as Record<string, unknown>;

/** Whether `observed` has every value `declared` sets (objects compared key by key, durations by seconds). */
function covers(observed: unknown, declared: unknown): boolean {
  if (declared === undefined) return true;
  if (typeof declared === 'string' && typeof observed === 'string' && /^\d+(\.\d+)?s$/.test(declared)) return parseFloat(observed) === parseFloat(declared);
  if (Array.isArray(declared)) return Array.isArray(observed) && observed.length === declared.length && declared.every((d, i) => covers(observed[i], d));
  if (declared && typeof declared === 'object') {
    if (!observed || typeof observed !== 'object') return false;
    return Object.entries(declared).every(([key, value]) => covers((observed as Record<string, unknown>)[key], value));
  }
  return observed === declared;
}

/** Props whose declared value the service reports differently. */
function driftOf<P extends LakebaseProps>(kind: LakebaseKind<P, any>, object: LakebaseObject, props: P): string[] {
  const status = statusOf(object);
  const spec = specOf(kind, props);
  return kind.fields
    .filter((f) => f.observed !== false && f.wire in spec && f.wire in status && !covers(status[f.wire], spec[f.wire]))
    .map((f) => f.prop);
}

/** The update mask for the changed prop paths; props that cannot change in place are left out. */
function maskFor<P extends LakebaseProps>(kind: LakebaseKind<P, any>, changes: readonly string[]): string[] {
  const mask = new Set<string>();
  for (const path of changes) {
    const [top, leaf] = path.split('.');
    const field = kind.fields.find((f) => f.prop === top);
    if (!field?.mask) continue;
    mask.add(field.leafMask && leaf ? `${field.mask}.${snake(leaf)}` : field.mask);
  }
  return [...mask];
}

/** How long to wait before sending a refused change again: 250 ms doubling to 5 s, with jitter. */
const conflictDelay = (attempt: number) => Math.min(250 * 2 ** attempt, 5_000) * (0.5 + Math.random() / 2);

/**
 * Sends a change, waiting out other operations on the same branch: the service allows one at a
 * time and refuses the rest. Gives up only at the resource's deadline.
 */
async function whenBranchIsFree<T>(what: string, send: () => Promise<T>, ctx: Pick<HandlerContext, 'log' | 'signal'>): Promise<T> {
  let lastLine = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      return await send();
    } catch (err) {
      if (!(err instanceof databricksApi().DatabricksApiError) || !err.conflictingOperation) throw err;
      if (Date.now() - lastLine >= 30_000) {
        ctx.log(`another operation is running on the branch; waiting to ${what} (${err.serviceMessage})`);
        lastLine = Date.now();
      }
      await sleep(conflictDelay(attempt), undefined, { signal: ctx.signal });
    }
  }
}

/** How a Lakebase operation is polled and read. */
function pollOptions(client: DatabricksClient, what: string) {
  return {
    what,
    poll: (id: string, signal: AbortSignal) => client.operation(id, signal),
    errorOf: (op: LakebaseOperation) => (op.error ? `[${op.error.error_code ?? 'ERROR'}] ${op.error.message ?? JSON.stringify(op.error)}` : undefined),
    // The SDKs start at 1 s; operations in a branch are often quicker than that.
    initialDelayMs: 250,
    maxDelayMs: 10_000,
  };
}

/** Sends a change and waits for its operation; the operation's response (the object, shaped like GET). */
async function change(client: DatabricksClient, what: string, send: (signal: AbortSignal) => Promise<LakebaseOperation>, ctx: HandlerContext): Promise<LakebaseObject | undefined> {
  const op = await awaitOperation({ ...pollOptions(client, what), start: (signal) => whenBranchIsFree(what, () => send(signal), ctx) }, ctx);
  return op.response;
}

/** Polls GET until the kind says the object is ready. */
async function untilReady<P extends LakebaseProps>(kind: LakebaseKind<P, any>, client: DatabricksClient, name: string, object: LakebaseObject, ctx: HandlerContext): Promise<LakebaseObject> {
  if (!kind.ready) return object;
  let latest = object;
  await awaitOperation<LakebaseObject>(
    {
      what: `${kind.noun} ${name} to be ready`,
      start: async () => latest,
      poll: async () => (latest = (await client.get(name)) ?? latest),
      idOf: () => name,
      isDone: (o) => kind.ready?.(o) !== false,
      errorOf: (o) => {
        const ready = kind.ready?.(o);
        return typeof ready === 'object' ? ready.failed : undefined;
      },
      initialDelayMs: 250,
      maxDelayMs: 5_000,
    },
    // The object exists by now: a killed run finds it by name, so there is nothing to checkpoint.
    { ...ctx, checkpoint: async () => undefined },
  );
  return latest;
}

/** Defines a Lakebase resource type from its kind. */
export function defineLakebaseType<P extends LakebaseProps, O extends Outputs>(kind: LakebaseKind<P, O>): ResourceType<P, O> {
  const mutable = kind.fields.some((f) => f.mask);

  const created = async (client: DatabricksClient, name: string, object: LakebaseObject | undefined, props: P, ctx: HandlerContext): Promise<CreateResult<O>> => {
    const found = object?.status ? object : await client.get(name);
    if (!found) throw new Error(`${kind.noun} ${name}: the operation finished but the ${kind.noun} cannot be read`);
    const ready = await untilReady(kind, client, name, found, ctx);
    return { physicalId: name, outputs: kind.outputs(ready, props) };
  };

  return defineResourceType<P, O>({
    name: kind.name,
    module: kind.module,
    schema: kind.schema,
    attributes: kind.attributes,
    stableAttributes: kind.stableAttributes ?? kind.attributes.filter((a) => a === 'name' || a.endsWith('Id')),
    immutable: mutable ? kind.immutable : ['*'],
    // Names are chosen by the user and unique, so the old object goes first.
    replaceOrder: 'delete-before-create',
    defaultRemovalPolicy: kind.defaultRemovalPolicy,
    warmUp: (props, log) => databricksClient(props.workspace, { log }).warmUp(),

    async create(props, ctx) {
      const client = databricksClient(props.workspace, ctx);
      const name = resourceName(kind, props);
      const id = kind.id(props);
      const adopting = props.replaceExisting === true || kind.isImplicit?.(props) === true;
      const body = { spec: specOf(kind, props), ...kind.createOnly?.(props) };
      // A run killed before the operation's id is known still tells `adopt` to look for the object.
      await ctx.checkpoint({ creating: name });
      try {
        const object = await change(client, `${kind.noun} ${name} to be created`, () => client.create(kind.parent(props), kind.collection, kind.idParam, id, body, adopting ? { replace_existing: true } : {}), ctx);
        return await created(client, name, object, props, ctx);
      } catch (err) {
        if (!(err instanceof databricksApi().DatabricksApiError) || !err.alreadyExists) throw err;
        const hint = kind.clashHint?.(props);
        throw new Error(
          `${kind.noun} ${name} cannot be created: ${err.serviceMessage}. ` +
            (hint ?? `It was not made by this stack: to manage the existing ${kind.noun}, set replaceExisting: true on the construct (it is updated to match the code), or record it with 'pgstacks state import ${ctx.stack} ${ctx.logicalId} ${name}'; otherwise choose another id.`),
        );
      }
    },

    async read(name, props, ctx) {
      const object = await databricksClient(props.workspace, ctx).get(name);
      if (!object || object.delete_time) return undefined;
      return { outputs: kind.outputs(object, props), observed: object.status, drift: driftOf(kind, object, props) };
    },

    ...(mutable && {
      async update(name: string, _old: P, props: P, ctx: HandlerContext) {
        const client = databricksClient(props.workspace, ctx);
        const spec = specOf(kind, props);
        const mask = maskFor(kind, ctx.changes);
        // The service refuses a mask path without a value: a field removed from the code keeps its value.
        const sendable = mask.filter((path) => {
          const wire = path.split('.')[1];
          const keep = kind.fields.some((f) => f.wire === wire && f.wire in spec) || path === 'spec.expiration' || path === 'spec.suspension';
          if (!keep) ctx.log(`${path} was removed from the code; the ${kind.noun} keeps its current value`);
          return keep;
        });
        if (sendable.length > 0) {
          ctx.log(`updating ${sendable.join(', ')}`);
          const object = await change(client, `${kind.noun} ${name} to be updated`, () => client.update(name, { name, spec }, sendable), ctx);
          return { outputs: (await created(client, name, object, props, ctx)).outputs };
        }
        const object = await client.get(name);
        if (!object) throw new Error(`${kind.noun} ${name} no longer exists`);
        return { outputs: kind.outputs(object, props) };
      },
    }),

    async delete(name, props, ctx) {
      const client = databricksClient(props.workspace, ctx);
      try {
        await change(client, `${kind.noun} ${name} to be deleted`, () => client.delete(name, kind.deleteQuery?.(props) ?? {}), ctx);
      } catch (err) {
        const api = databricksApi();
        if (err instanceof api.DatabricksApiError && err.status === 404) return;
        if (err instanceof api.DatabricksApiError && err.managedByParent) {
          ctx.log(`${name} is managed by its parent, so it is deleted with it, not alone (${err.serviceMessage})`);
          return;
        }
        throw err;
      }
    },

    /** After an interrupted create: the same operation, polled to its end; else the object by its name. */
    async adopt(props, ctx) {
      const client = databricksClient(props.workspace, ctx);
      const name = resourceName(kind, props);
      const op = await resumeOperation(pollOptions(client, `${kind.noun} ${name} to be created`), ctx);
      const object = op?.response ?? (await client.get(name));
      if (!object || object.delete_time) return undefined;
      return created(client, name, object, props, ctx);
    },

    naturalKey: (props) => resourceName(kind, props),
  });
}

/** A prop path's `status` value as a string, or `''`. */
export function statusString(object: LakebaseObject, key: string): string {
  const value = statusOf(object)[key];
  return typeof value === 'string' ? value : '';
}

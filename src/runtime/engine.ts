/**
 * The lifecycle engine: what the handler does when Terraform runs a lifecycle resource's
 * provisioner. `apply` is an upsert against the state store's record (DESIGN.md §1); `destroy`
 * and `prune` delete, honouring the removal policy.
 */
import { Logger, formatDuration } from './log';
import { collectRefs, collectSecretNames, readSecrets, resolveRefs, substituteSecrets } from './resolve';
import { getResourceType, type CreateResult, type HandlerContext, type ResourceType } from './resource-type';
import {
  isConcatMarker,
  isObject,
  isRefMarker,
  isSecretMarker,
  type Json,
  type JsonObject,
  type PruneSpec,
  type ResourceSpec,
} from './spec';
import { fingerprint, newSalt, openSecrets, sameFingerprint, sealSecrets, STATE_KEY_VARIABLE } from './state/secrets';
import type { ResourceRecord, StateStore } from './state/store';

export interface EngineOptions {
  readonly store: StateStore;
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  /** Written into each record, to tell which handler wrote it. */
  readonly version: string;
  /** How long one resource's handler calls may take in all. @default 30 minutes */
  readonly timeoutMs?: number;
  readonly resolveType?: (name: string) => ResourceType | undefined;
}

/** A failure the user can act on; printed without a stack trace. */
export class PgstacksError extends Error {}

/** The state of one resource operation: its spec, type, record and secrets. */
interface Operation {
  readonly label: string;
  readonly type: ResourceType;
  readonly stack: string;
  readonly id: string;
  readonly ctx: HandlerContext;
  record?: ResourceRecord;
}

export class LifecycleEngine {
  private readonly store: StateStore;
  private readonly env: NodeJS.ProcessEnv;
  private readonly logger: Logger;
  private readonly timeoutMs: number;

  constructor(private readonly options: EngineOptions) {
    this.store = options.store;
    this.env = options.env;
    this.logger = options.logger;
    this.timeoutMs = options.timeoutMs ?? 30 * 60_000;
  }

  // ---------------------------------------------------------------- apply

  async apply(spec: ResourceSpec): Promise<void> {
    const started = Date.now();
    const op = this.operation(spec.stack, spec.id, spec.type);
    const record = (op.record = await this.loadOrMove(spec, op));

    const props = (await resolveRefs(spec.props, (ref) => this.lookup(spec, ref))) as JsonObject;
    const secrets = this.readSecrets(props, op.label);
    const handlerProps = await this.parseProps(op, props, secrets, true);
    const dependencies = [...new Set(collectRefs(spec.props).map((r) => r.resource))].sort();
    const took = () => formatDuration(Date.now() - started);

    /** Writes the intent record, then creates (or, after an interrupted create, adopts) the object. */
    const createObject = async (verb: string, recovering: boolean) => {
      const intent = op.record ?? this.newRecord(spec, props, dependencies);
      Object.assign(intent, { spec, props, dependencies, status: 'creating' as const, physicalId: undefined });
      if (!recovering) intent.checkpoint = undefined;
      await this.save((op.record = intent));
      const result = await this.create(op, handlerProps, recovering);
      await this.commit(op, spec, props, secrets, result);
      op.ctx.log(`${verb} ${describe(op.type, result.physicalId)} in ${took()}`);
    };

    if (!record) {
      await createObject('created', false);
    } else if (!record.physicalId) {
      // An intent left by an interrupted create: adopt what it made, or create.
      await createObject('created', true);
    } else {
      const changes = [...new Set([...diffProps(record.props, props), ...this.secretChanges(record, props, secrets)])].sort();
      const current = await this.guard(op, 'read', () => op.type.read(record.physicalId as string, handlerProps, op.ctx));
      if (!current) {
        op.ctx.log(`${describe(op.type, record.physicalId)} is gone (deleted outside pgstacks); creating it again`);
        await createObject('re-created', false);
      } else if (changes.length === 0) {
        const outputs = { ...record.outputs, ...current.outputs };
        if (JSON.stringify(outputs) !== JSON.stringify(record.outputs) || JSON.stringify(spec) !== JSON.stringify(record.spec)) {
          Object.assign(record, { spec, outputs, dependencies });
          await this.save(record);
        }
        op.ctx.log(`${describe(op.type, record.physicalId)} is up to date (${took()})`);
      } else {
        const immutable = changes.filter((c) => isImmutable(c, op.type.immutable));
        const oldProps = await this.previousProps(op, record.props, secrets);
        if (immutable.length > 0) {
          await this.replace(op, spec, props, dependencies, secrets, handlerProps, oldProps, immutable, record);
          op.ctx.log(`replaced (${immutable.join(', ')} changed): now ${describe(op.type, record.physicalId)} in ${took()}`);
        } else {
          if (!op.type.update) throw new PgstacksError(`${op.label}: ${op.type.name} cannot be updated in place`);
          const update = op.type.update.bind(op.type);
          const ctx = { ...op.ctx, changes };
          const result = await this.guard(op, 'update', () => update(record.physicalId as string, oldProps, handlerProps, ctx));
          this.redactOutputs(result.secretOutputs);
          Object.assign(record, { spec, props, dependencies, status: 'ready' as const });
          record.outputs = { ...record.outputs, ...result.outputs };
          if (result.secretOutputs) record.secretOutputs = sealSecrets({ ...this.secretOutputs(record), ...result.secretOutputs }, this.stateKey);
          record.secretFingerprints = fingerprints(secrets);
          await this.save(record);
          op.ctx.log(`updated ${describe(op.type, record.physicalId)} in place (${changes.join(', ')}) in ${took()}`);
        }
      }
    }
    await this.drainPendingDeletes(op, secrets);
  }

  private async replace(
    op: Operation,
    spec: ResourceSpec,
    props: JsonObject,
    dependencies: string[],
    secrets: Map<string, string>,
    handlerProps: unknown,
    oldProps: unknown,
    immutable: string[],
    record: ResourceRecord,
  ): Promise<void> {
    const old = record.physicalId as string;
    if (spec.removalPolicy === 'retain' && !spec.allowReplacement) {
      const changed = immutable.map((path) => `${path} (${show(valueAt(record.props, path))} -> ${show(valueAt(props, path))})`).join(', ');
      throw new PgstacksError(
        `${op.label}: changing ${changed} needs a replacement, which would delete ${describe(op.type, old)}, ` +
          `and its removal policy is RETAIN, so pgstacks refused. To replace it, set allowReplacement: true ` +
          `on the construct (or removalPolicy: RemovalPolicy.DESTROY) and deploy again; to keep it, revert the change.`,
      );
    }
    if (op.type.replaceOrder === 'create-before-delete') {
      record.pendingDeletes = [...(record.pendingDeletes ?? []), { physicalId: old, props: record.props }];
      Object.assign(record, { spec, props, dependencies, status: 'creating' as const, physicalId: undefined, checkpoint: undefined });
      await this.save(record);
      const result = await this.create(op, handlerProps, false);
      await this.commit(op, spec, props, secrets, result);
    } else {
      record.status = 'deleting';
      await this.save(record);
      await this.guard(op, 'delete', () => op.type.delete(old, oldProps, op.ctx));
      op.ctx.log(`deleted ${describe(op.type, old)} to replace it`);
      Object.assign(record, { spec, props, dependencies, status: 'creating' as const, physicalId: undefined, checkpoint: undefined });
      await this.save(record);
      const result = await this.create(op, handlerProps, false);
      await this.commit(op, spec, props, secrets, result);
    }
  }

  /** Creates the object, or adopts what an interrupted attempt made. */
  private async create(op: Operation, props: unknown, recovering: boolean): Promise<CreateResult> {
    const record = op.record as ResourceRecord;
    if (recovering) {
      if (op.type.adopt) {
        const adopt = op.type.adopt.bind(op.type);
        const found = await this.guard(op, 'adopt', () => adopt(props, op.ctx));
        const isOld = found && record.pendingDeletes?.some((p) => p.physicalId === found.physicalId);
        if (found && !isOld) {
          op.ctx.log(`adopted ${describe(op.type, found.physicalId)} left by an interrupted apply`);
          this.redactOutputs(found.secretOutputs);
          return found;
        }
      } else {
        op.ctx.log(`an earlier apply was interrupted and ${op.type.name} cannot look for what it made; creating again`);
      }
    }
    const result = await this.guard(op, 'create', () => op.type.create(props, op.ctx));
    this.redactOutputs(result.secretOutputs);
    return result;
  }

  /** Writes the record of a created object. */
  private async commit(op: Operation, spec: ResourceSpec, props: JsonObject, secrets: Map<string, string>, result: CreateResult): Promise<void> {
    const record = op.record as ResourceRecord;
    Object.assign(record, { spec, props, status: 'ready' as const, physicalId: result.physicalId, outputs: { ...result.outputs }, checkpoint: undefined });
    record.secretOutputs = result.secretOutputs ? sealSecrets(result.secretOutputs, this.stateKey) : undefined;
    record.secretFingerprints = fingerprints(secrets);
    await this.save(record);
  }

  private async drainPendingDeletes(op: Operation, secrets: Map<string, string>): Promise<void> {
    const record = op.record as ResourceRecord;
    while (record.pendingDeletes?.length) {
      const [pending] = record.pendingDeletes;
      const oldProps = await this.parseProps(op, pending.props, new Map([...this.readSecrets(pending.props, op.label), ...secrets]), false);
      await this.guard(op, 'delete', () => op.type.delete(pending.physicalId, oldProps, op.ctx));
      op.ctx.log(`deleted the replaced ${describe(op.type, pending.physicalId)}`);
      record.pendingDeletes = record.pendingDeletes.slice(1);
      await this.save(record);
    }
  }

  /** The record under the spec's id, or one found under an alias (moved to the new id). */
  private async loadOrMove(spec: ResourceSpec, op: Operation): Promise<ResourceRecord | undefined> {
    const record = await this.store.get(spec.stack, spec.id);
    if (record) return record;
    for (const alias of spec.aliases) {
      const old = await this.store.get(spec.stack, alias);
      if (!old) continue;
      if (old.type !== spec.type) {
        throw new PgstacksError(`${op.label}: alias '${alias}' names a ${old.type}, not a ${spec.type}`);
      }
      const moved: ResourceRecord = { ...old, id: spec.id, updatedAt: new Date().toISOString() };
      await this.store.put(moved);
      await this.store.remove(spec.stack, alias);
      op.ctx.log(`moved from '${alias}' (alias): ${describe(op.type, old.physicalId)} kept`);
      return moved;
    }
    return undefined;
  }

  // ------------------------------------------------------ destroy and prune

  /** The destroy-time provisioner: deletes (DESTROY) or forgets (RETAIN) the resource. */
  async destroy(spec: ResourceSpec): Promise<void> {
    const record = await this.store.get(spec.stack, spec.id);
    if (!record) {
      this.logger.line(`${spec.id}: not in the ${this.store.description}; nothing to delete`);
      return;
    }
    await this.removeRecord(record, 'destroy');
  }

  /** Deletes what the state store holds but the stack's code no longer declares. */
  async prune(spec: PruneSpec): Promise<void> {
    await this.store.withLock(spec.stack, async () => {
      const keep = new Set([...spec.resources, ...spec.aliases]);
      const removed = (await this.store.list(spec.stack)).filter((r) => !keep.has(r.id));
      if (removed.length === 0) {
        this.logger.line(`prune: every resource in the ${this.store.description} is still declared in stack '${spec.stack}'`);
        return;
      }
      const failed = new Map<string, string>();
      for (const record of dependentsFirst(removed)) {
        // A resource whose dependent could not be deleted stays too: deleting it would break that one.
        const blocker = removed.find((r) => failed.has(r.id) && r.dependencies.includes(record.id));
        if (blocker) {
          failed.set(record.id, `kept because ${blocker.id} could not be removed`);
          continue;
        }
        try {
          await this.removeRecord(record, 'prune');
        } catch (err) {
          failed.set(record.id, this.logger.clean((err as Error).message));
        }
      }
      if (failed.size > 0) {
        throw new PgstacksError(`prune failed for ${[...failed].map(([id, why]) => `${id}: ${why}`).join('; ')}`);
      }
    });
  }

  private async removeRecord(record: ResourceRecord, reason: 'destroy' | 'prune'): Promise<void> {
    const started = Date.now();
    const op = this.operation(record.stack, record.id, record.type);
    op.record = record;
    const why = reason === 'prune' ? ' (no longer in the code)' : '';
    const secrets = this.readSecrets(record.props, op.label);
    const props = await this.parseProps(op, record.props, secrets, false);
    await this.drainPendingDeletes(op, secrets);

    if (record.spec.removalPolicy === 'retain') {
      await this.store.remove(record.stack, record.id);
      op.ctx.log(
        `forgot${why}: removal policy RETAIN, so ${describe(op.type, record.physicalId)} was kept. ` +
          `Delete it by hand if it is no longer needed.`,
      );
      return;
    }
    let physicalId = record.physicalId;
    if (!physicalId && op.type.adopt) {
      // An interrupted create may have made the object; find it so nothing is orphaned.
      const adopt = op.type.adopt.bind(op.type);
      physicalId = (await this.guard(op, 'adopt', () => adopt(props, { ...op.ctx, recovery: record.checkpoint })))?.physicalId;
    }
    if (physicalId) {
      record.status = 'deleting';
      await this.save(record);
      const id = physicalId;
      await this.guard(op, 'delete', () => op.type.delete(id, props, op.ctx));
    }
    await this.store.remove(record.stack, record.id);
    op.ctx.log(`deleted${why} ${describe(op.type, physicalId)} in ${formatDuration(Date.now() - started)}`);
  }

  // ------------------------------------------------------------- helpers

  private get stateKey(): string | undefined {
    return this.env[STATE_KEY_VARIABLE] || undefined;
  }

  private operation(stack: string, id: string, typeName: string): Operation {
    const type = (this.options.resolveType ?? getResourceType)(typeName);
    if (!type) {
      throw new PgstacksError(
        `${id}: unknown resource type '${typeName}'. The handler bundle has no such type; ` +
          `keep a construct of that type in the stack, or forget the record with 'pgstacks state rm ${stack} ${id}'.`,
      );
    }
    const op: Operation = {
      label: `${id} (${typeName})`,
      type,
      stack,
      id,
      ctx: {
        stack,
        logicalId: id,
        log: (message) => this.logger.line(`${id}: ${message}`),
        checkpoint: async (data) => {
          if (!op.record) return;
          op.record.checkpoint = data;
          await this.save(op.record);
        },
        get recovery() {
          return op.record?.checkpoint;
        },
        redact: (value) => this.logger.redact(value),
        signal: AbortSignal.timeout(this.timeoutMs),
        changes: [],
      },
    };
    return op;
  }

  /** Runs one handler call, failing with a clear message at the deadline. */
  private async guard<T>(op: Operation, call: string, fn: () => Promise<T>): Promise<T> {
    const { signal } = op.ctx;
    if (signal.aborted) throw new PgstacksError(`${op.label}: timed out before ${call}`);
    let onAbort: () => void = () => undefined;
    const deadline = new Promise<never>((_, reject) => {
      onAbort = () => reject(new PgstacksError(`${op.label}: ${call} timed out after ${formatDuration(this.timeoutMs)}`));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([fn(), deadline]);
    } catch (err) {
      if (err instanceof PgstacksError) throw err;
      // Cleaned here, so a secret an API echoed back never travels further in the message.
      throw new PgstacksError(this.logger.clean(`${op.label}: ${call} failed: ${(err as Error).message ?? String(err)}`));
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private newRecord(spec: ResourceSpec, props: JsonObject, dependencies: string[]): ResourceRecord {
    const now = new Date().toISOString();
    return {
      stack: spec.stack,
      id: spec.id,
      type: spec.type,
      status: 'creating',
      spec,
      props,
      outputs: {},
      dependencies,
      createdAt: now,
      updatedAt: now,
      handlerVersion: this.options.version,
    };
  }

  private async save(record: ResourceRecord): Promise<void> {
    record.updatedAt = new Date().toISOString();
    record.handlerVersion = this.options.version;
    await this.store.put(record);
  }

  /** Resolves one reference from the referenced resource's record. */
  private async lookup(spec: ResourceSpec, ref: { resource: string; attribute: string }): Promise<string | number | boolean | null> {
    const target = await this.store.get(spec.stack, ref.resource);
    const what = `${spec.id} references ${ref.resource}.${ref.attribute}`;
    if (!target || target.status !== 'ready') {
      throw new PgstacksError(`${what}, but ${ref.resource} has not been applied yet (no ready record in the ${this.store.description})`);
    }
    if (ref.attribute in target.outputs) return target.outputs[ref.attribute];
    const secretOutputs = target.secretOutputs ? openSecrets(target.secretOutputs, this.stateKey) : {};
    if (ref.attribute in secretOutputs) {
      this.logger.redact(secretOutputs[ref.attribute]);
      return secretOutputs[ref.attribute];
    }
    throw new PgstacksError(`${what}, but ${ref.resource} has no output '${ref.attribute}' (it has: ${Object.keys(target.outputs).join(', ') || 'none'})`);
  }

  private readSecrets(props: Json, label: string): Map<string, string> {
    try {
      const secrets = readSecrets(collectSecretNames(props), this.env, label);
      for (const value of secrets.values()) this.logger.redact(value);
      return secrets;
    } catch (err) {
      throw new PgstacksError((err as Error).message);
    }
  }

  /** Substitutes secrets and validates with the type's schema. Old props fall back to raw values. */
  private async parseProps(op: Operation, props: JsonObject, secrets: Map<string, string>, strict: boolean): Promise<unknown> {
    const value = await substituteSecrets(props, secrets);
    const parsed = op.type.schema.safeParse(value);
    if (parsed.success) return parsed.data;
    if (!strict) return value;
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(props)'}: ${i.message}`).join('; ');
    throw new PgstacksError(this.logger.clean(`${op.label}: invalid props: ${problems}`));
  }

  /**
   * The props last applied, for `update` and the delete half of a replacement: their secrets are
   * read where the environment still has them (a renamed variable may be gone).
   */
  private previousProps(op: Operation, props: JsonObject, current: Map<string, string>): Promise<unknown> {
    const available = collectSecretNames(props).filter((name) => this.env[name]);
    const secrets = new Map([...available.map((name): [string, string] => [name, this.env[name] as string]), ...current]);
    for (const value of secrets.values()) this.logger.redact(value);
    return this.parseProps(op, props, secrets, false);
  }

  /** Paths whose secret value differs from the one last applied. */
  private secretChanges(record: ResourceRecord, props: JsonObject, secrets: Map<string, string>): string[] {
    const known = record.secretFingerprints;
    const changed = new Set<string>();
    for (const [path, value] of leaves(props)) {
      for (const name of collectSecretNames(value)) {
        const expected = known?.values[name];
        if (!known || !expected || !sameFingerprint(secrets.get(name) as string, known.salt, expected)) changed.add(path);
      }
    }
    return [...changed];
  }

  private secretOutputs(record: ResourceRecord): Record<string, string> {
    return record.secretOutputs ? openSecrets(record.secretOutputs, this.stateKey) : {};
  }

  private redactOutputs(values: Record<string, string> | undefined): void {
    for (const value of Object.values(values ?? {})) this.logger.redact(value);
  }
}

function fingerprints(secrets: Map<string, string>): ResourceRecord['secretFingerprints'] {
  if (secrets.size === 0) return undefined;
  const salt = newSalt();
  return { salt, values: Object.fromEntries([...secrets].map(([name, value]) => [name, fingerprint(value, salt)])) };
}

const describe = (type: ResourceType, physicalId: string | undefined) => `${type.name} ${physicalId ?? '(never created)'}`;

/** Leaf paths of a props document; markers, empty objects and empty arrays are leaves. */
function leaves(value: Json, prefix = ''): Array<[string, Json]> {
  const isContainer = (Array.isArray(value) && value.length > 0) || (isObject(value) && Object.keys(value).length > 0 && !isSecretMarker(value) && !isRefMarker(value) && !isConcatMarker(value));
  if (!isContainer) return [[prefix, value]];
  const entries: Array<[string, Json]> = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value as JsonObject);
  return entries.flatMap(([key, v]) => leaves(v, prefix ? `${prefix}.${key}` : key));
}

/** The dotted paths whose values differ. */
export function diffProps(before: JsonObject, after: JsonObject): string[] {
  const a = new Map(leaves(before).map(([p, v]) => [p, JSON.stringify(v)]));
  const b = new Map(leaves(after).map(([p, v]) => [p, JSON.stringify(v)]));
  return [...new Set([...a.keys(), ...b.keys()])].filter((p) => a.get(p) !== b.get(p)).sort();
}

export function isImmutable(path: string, immutable: readonly string[]): boolean {
  return immutable.some((p) => p === '*' || p === path || path.startsWith(`${p}.`) || p.startsWith(`${path}.`));
}

function valueAt(value: JsonObject, path: string): Json | undefined {
  let current: Json | undefined = value;
  for (const key of path.split('.')) current = isObject(current) || Array.isArray(current) ? (current as Record<string, Json>)[key] : undefined;
  return current;
}

function show(value: Json | undefined): string {
  const text = value === undefined ? 'unset' : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Orders records so that each comes before the records it depends on. */
function dependentsFirst(records: ResourceRecord[]): ResourceRecord[] {
  const remaining = [...records];
  const ordered: ResourceRecord[] = [];
  while (remaining.length > 0) {
    const index = remaining.findIndex((r) => !remaining.some((other) => other !== r && other.dependencies.includes(r.id)));
    // A cycle cannot come from the construct tree; fall back to the listed order rather than loop.
    ordered.push(...remaining.splice(index === -1 ? 0 : index, 1));
  }
  return ordered;
}

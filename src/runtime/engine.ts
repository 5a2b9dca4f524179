/**
 * The lifecycle engine: one run per apply for a whole stack (docs/lifecycle.md). It loads every
 * record, reads every remote object, resolves every spec once and decides, per resource, what
 * to do — the stack plan — before it does anything. Then it executes that plan: deletions of
 * what the code no longer declares (dependents first), then the declared resources in dependency
 * order with bounded parallelism, then the old halves of create-before-delete replacements.
 */
import { setMaxListeners } from 'node:events';
import { secretInputs } from './early-secrets';
import { runGraph, SkippedError } from './graph';
import { HANDLER_ENV } from './handler-env';
import { formatDuration, type Logger } from './log';
import {
  diffProps,
  formatPlan,
  isImmutable,
  KNOWN_AFTER_APPLY,
  leaves,
  SENSITIVE,
  showValue,
  valueAt,
  type FieldChange,
  type PlannedResource,
  type StackPlan,
} from './plan';
import { dependenciesOf, resolveProps, secretKey, substituteSecrets, type Ref, type RefValue, type ResolvedProps } from './resolve';
import { getResourceType, type CreateResult, type HandlerContext, type Outputs, type ReadResult, type ResourceType } from './resource-type';
import { expandConnections, isConcatMarker, isRefMarker, isSecretMarker, type Json, type JsonObject, type ResourceSpec, type StackManifest } from './spec';
import { fingerprint, kdfOf, keyCheck, keyMatches, needsStretching, newSalt, openSecrets, prederive, sameFingerprint, sealSecrets, STATE_KEY_VARIABLE, useSalt, type SealedSecrets } from './state/secrets';
import type { ResourceRecord, StackMeta, StateStore } from './state/store';

export interface EngineOptions {
  readonly store: StateStore;
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  /** Written into each record, to tell which handler wrote it. */
  readonly version: string;
  /** How long one resource's handler calls may take in all. @default 30 minutes */
  readonly timeoutMs?: number;
  /** How many resources are worked on at once. @default 10, as Terraform's -parallelism */
  readonly parallelism?: number;
  readonly resolveType?: (name: string) => ResourceType | undefined;
  /**
   * Registers the resource types named (the manifest's and the records'), before the run looks
   * any up. The handler loads only the services a stack uses.
   */
  readonly loadTypes?: (names: readonly string[]) => void;
  /**
   * The stack's Terraform deployment (its teardown resource's id, kept by Terraform for the
   * stack's life). When the store does not know it, the state was lost: what can be found by its
   * natural key is adopted, and what cannot stops the run with the import command to use.
   */
  readonly deployment?: string;
  /** Store secret outputs in plain text when PGSTACKS_STATE_KEY is not set. @default false */
  readonly allowPlaintextSecrets?: boolean;
}

const PLAINTEXT_SECRETS_VARIABLE = HANDLER_ENV.plaintextSecrets;

/** What the caller of a run wants to hear about. */
export interface RunHooks {
  /** Before anything else: the run has started (it may not finish). */
  begin?(): Promise<void>;
  /** After every resource was applied: the stack matches the code. */
  end?(): Promise<void>;
  /** Asked before each resource starts; a reason stops the run (what runs finishes). */
  stopReason?(): string | undefined;
  /**
   * Terraform created the stack's deployment (its teardown) in this apply: the records belong
   * to it from now on, and a stack with no records is new, not one whose state was lost.
   */
  newDeployment?: boolean;
}

/** A failure the user can act on; printed without a stack trace. */
export class PgstacksError extends Error {}

/** A declared resource in one run: its spec, record, remote state and decision. */
interface Item {
  readonly spec: ResourceSpec;
  readonly type: ResourceType;
  readonly label: string;
  /** The logical ids its props reference. */
  readonly dependencies: readonly string[];
  record?: ResourceRecord;
  /** A record taken over from another logical id (an alias, or the same natural key). */
  move?: { readonly from: string; readonly why: string };
  /** The object as read at plan time: `null` when it is gone. */
  current?: ReadResult | null;
  /** The state was lost: look for the object by its natural key before creating one. */
  adoptFirst?: boolean;
  inputs?: ResolvedProps;
  /** The inputs in handler form, as the type's schema parsed them when they were decided on. */
  handlerProps?: unknown;
  planned: PlannedResource;
}

export class LifecycleEngine {
  private readonly store: StateStore;
  private readonly logger: Logger;
  private readonly timeoutMs: number;
  private readonly parallelism: number;

  constructor(private readonly options: EngineOptions) {
    this.store = options.store;
    this.logger = options.logger;
    this.timeoutMs = options.timeoutMs ?? 30 * 60_000;
    this.parallelism = Math.max(1, options.parallelism ?? 10);
  }

  /** The stack plan, without changing anything (reads only, no lock). */
  async plan(manifest: StackManifest): Promise<StackPlan> {
    return (await this.open(manifest.stack, manifest)).plan(withConnections(manifest));
  }

  /** Drives the stack's remote objects and records to the manifest. */
  async reconcile(manifest: StackManifest, hooks: RunHooks = {}): Promise<StackPlan> {
    await hooks.begin?.();
    return this.store.withLock(manifest.stack, async () => {
      if (hooks.newDeployment && this.options.deployment) await this.recordDeployment(manifest.stack, this.options.deployment);
      const run = await this.open(manifest.stack, manifest);
      await run.checkKey(manifest.resources.map((r) => r.type));
      const plan = await run.plan(withConnections(manifest), { warmUp: true });
      for (const line of formatPlan(plan)) this.logger.line(line);
      const blocked = plan.resources.filter((r) => r.error);
      if (blocked.length > 0) {
        throw new PgstacksError(`nothing was changed, because ${blocked.length === 1 ? 'a resource' : `${blocked.length} resources`} cannot be applied as declared:\n${blocked.map((r) => `  ${r.id}: ${r.error}`).join('\n')}`);
      }
      run.checkPlaintext();
      await run.execute(hooks);
      await run.recordDeployment();
      await hooks.end?.();
      return plan;
    }, { onWait: (message) => this.logger.line(message) });
  }

  /** Deletes every DESTROY object of the stack and forgets every record (RETAIN objects are kept). */
  async destroyStack(stack: string, hooks: RunHooks = {}): Promise<void> {
    await this.store.withLock(stack, async () => {
      const run = await this.open(stack);
      const records = run.allRecords();
      if (records.length === 0) {
        this.logger.line(`stack '${stack}': nothing in the ${this.store.description} to delete`);
      } else {
        await run.checkKey();
        await run.removeAll(records, 'destroy', hooks);
      }
      await hooks.end?.();
    }, { onWait: (message) => this.logger.line(message) });
  }

  /**
   * Records a remote object the engine lost track of (`pgstacks state import`): the declared
   * resource `id` is the object `physicalId`, read to fill its outputs; with no physical id, the
   * resource is recorded as not existing, so the next apply creates it.
   */
  async importRecord(manifest: StackManifest, id: string, physicalId: string | undefined): Promise<string> {
    return this.store.withLock(manifest.stack, async () => {
      const run = await this.open(manifest.stack, manifest);
      await run.checkKey();
      return run.importRecord(withConnections(manifest), id, physicalId);
    });
  }

  /** Marks the stack's records as belonging to Terraform deployment `deployment` (the teardown's create). */
  async registerDeployment(stack: string, deployment: string): Promise<void> {
    await this.store.withLock(stack, () => this.recordDeployment(stack, deployment));
  }

  private async recordDeployment(stack: string, deployment: string): Promise<void> {
    const meta = await this.store.getMeta(stack);
    if (meta?.deployment !== deployment) await this.store.putMeta(stack, { ...meta, deployment });
  }

  /**
   * Loads the stack's records, and the types they and `manifest` name. The fingerprints of secret
   * inputs, which planning compares, are derived on other threads meanwhile (secrets.ts), and the
   * state key when records are sealed with it (a run that seals the first time derives it in
   * {@link StackRun.checkKey}; a run that seals nothing, never).
   */
  private async open(stack: string, manifest?: StackManifest): Promise<StackRun> {
    const [records, meta] = await Promise.all([this.store.list(stack), this.store.getMeta(stack)]);
    if (meta?.keyCheck) useSalt(meta.keyCheck.salt);
    const key = this.options.env[STATE_KEY_VARIABLE];
    const opens = !!key && (!!meta?.keyCheck || records.some((r) => r.secretOutputs?.encrypted));
    const inputs = manifest ? secretInputs([manifest.connections, manifest.resources], this.options.env) : [];
    // With a key, fingerprints of secret inputs are keyed with it; without one (and in records of
    // earlier versions) they are a slow hash of each value.
    const unkeyed = !key || records.some((r) => r.secretFingerprints && !r.secretFingerprints.keyed);
    const stretched = !!key && (opens || inputs.length > 0) && needsStretching(key, meta?.keyCheck?.kdf);
    const derived = prederive([...(stretched ? [key] : []), ...(unkeyed ? inputs : [])]);
    this.options.loadTypes?.([...new Set([...(manifest?.resources ?? []).map((r) => r.type), ...records.map((r) => r.type)])]);
    await derived;
    return new StackRun({ ...this.options, timeoutMs: this.timeoutMs, parallelism: this.parallelism }, stack, records, meta, inputs.length > 0);
  }

  get description(): string {
    return this.store.description;
  }

}

/** One engine run over one stack: the records, the plan, and its execution. */
class StackRun {
  private readonly records = new Map<string, ResourceRecord>();
  private readonly items = new Map<string, Item>();
  private readonly store: StateStore;
  private readonly logger: Logger;
  private readonly env: NodeJS.ProcessEnv;

  /** The state was lost: Terraform deployed this stack, but the store does not know it. */
  private readonly lostState: boolean;

  constructor(
    private readonly options: EngineOptions & { readonly timeoutMs: number; readonly parallelism: number },
    private readonly stack: string,
    records: readonly ResourceRecord[],
    private meta: StackMeta | undefined,
    /** The manifest holds secret inputs, whose fingerprints are keyed with the state key. */
    private readonly secretInputs = false,
  ) {
    this.store = options.store;
    this.logger = options.logger;
    this.env = options.env;
    for (const record of records) this.records.set(record.id, record);
    this.lostState = !!options.deployment && !meta?.deployment;
  }

  allRecords(): ResourceRecord[] {
    return [...this.records.values()];
  }

  // ============================================================== secrets

  /**
   * Checks PGSTACKS_STATE_KEY against the stack's key check (or, the first time, against the
   * sealed records) before anything is read with it or written: a mistyped key is an error that
   * names the variable, never a half-applied stack.
   */
  async checkKey(declaredTypes: readonly string[] = []): Promise<void> {
    const key = this.stateKey;
    const encrypted = this.allRecords().filter((r) => r.secretOutputs?.encrypted);
    if (!key) {
      if (this.meta?.keyCheck || encrypted.length > 0) {
        throw new PgstacksError(`the secret outputs of stack '${this.stack}' are encrypted: set ${STATE_KEY_VARIABLE} to their key and apply again; nothing was changed.`);
      }
      return;
    }
    // A run that neither seals, opens nor fingerprints a secret cannot be hurt by a wrong key: skip the slow check.
    const sealing =
      this.secretInputs ||
      [...declaredTypes, ...this.allRecords().map((r) => r.type)].some((t) => !!this.typeOf(t)?.secretAttributes?.length) ||
      this.allRecords().some((r) => r.secretFingerprints?.keyed);
    if (!sealing && encrypted.length === 0) return;
    // A passphrase's scrypt: off the main thread, or already under way since the bundle started.
    if (needsStretching(key, this.meta?.keyCheck?.kdf)) await prederive([key]);
    const wrong = () =>
      new PgstacksError(
        `${STATE_KEY_VARIABLE} is not the key the secret outputs of stack '${this.stack}' were sealed with ` +
          `(the ${this.store.description} holds a check of it). Set ${STATE_KEY_VARIABLE} to that key and apply again; nothing was changed.`,
      );
    if (this.meta?.keyCheck) {
      if (!keyMatches(key, this.meta.keyCheck)) throw wrong();
      // A 256-bit key checked by the scrypt of an earlier version: later runs check it without scrypt.
      if (this.meta.keyCheck.kdf !== kdfOf(key)) await this.putMeta({ ...this.meta, keyCheck: keyCheck(key) });
      return;
    }
    for (const record of encrypted) {
      try {
        openSecrets(record.secretOutputs as SealedSecrets, key);
      } catch {
        throw wrong();
      }
    }
    await this.putMeta({ ...this.meta, keyCheck: keyCheck(key) });
  }

  /**
   * Stops before the first write where a resource keeps secret outputs and there is no key to
   * seal them with, unless plain text is allowed explicitly.
   */
  checkPlaintext(): void {
    if (this.stateKey || this.options.allowPlaintextSecrets) return;
    const types = [...[...this.items.values()].map((item) => item.type), ...this.allRecords().map((record) => this.typeOf(record.type))];
    const withSecrets = [...new Set(types.filter((t): t is ResourceType => !!t?.secretAttributes?.length).map((t) => t.name))];
    if (withSecrets.length > 0) {
      throw new PgstacksError(
        `stack '${this.stack}' keeps secret outputs (of ${withSecrets.join(', ')}), and ${STATE_KEY_VARIABLE} is not set, so they would be ` +
          `stored in plain text. Set ${STATE_KEY_VARIABLE} to a 256-bit random key (export ${STATE_KEY_VARIABLE}="$(openssl rand -base64 32)") ` +
          `and keep it with your pipeline's secrets; or, to store them in plain text on purpose, set ${PLAINTEXT_SECRETS_VARIABLE}=true ` +
          `(or Pgstacks.configure(stack, { plaintextSecretOutputs: true })). Nothing was changed.`,
      );
    }
  }

  /** After a successful run: the records now belong to this Terraform deployment. */
  async recordDeployment(): Promise<void> {
    const { deployment } = this.options;
    if (deployment && this.meta?.deployment !== deployment) await this.putMeta({ ...this.meta, deployment });
  }

  private async putMeta(meta: StackMeta): Promise<void> {
    await this.store.putMeta(this.stack, meta);
    this.meta = meta;
  }

  // ============================================================== planning

  /** `warmUp`: the plan is applied next, so types may start what their first calls need meanwhile. */
  async plan(manifest: StackManifest, options: { warmUp?: boolean } = {}): Promise<StackPlan> {
    const declared = new Set(manifest.resources.map((s) => s.id));
    const planned: PlannedResource[] = [];
    for (const spec of manifest.resources) {
      const type = this.typeOf(spec.type);
      const entry: PlannedResource = { id: spec.id, type: spec.type, action: 'no-op', reasons: [], changes: [] };
      planned.push(entry);
      if (!type) {
        entry.error = `unknown resource type '${spec.type}': the handler bundle has no such type`;
        continue;
      }
      this.items.set(spec.id, { spec, type, label: `${spec.id} (${spec.type})`, dependencies: dependenciesOf(spec.props), record: this.records.get(spec.id), planned: entry });
    }
    this.findMoves(declared);
    await this.readAll([...this.items.values()].filter((i) => i.record?.physicalId));
    let warming = false;
    for (const item of this.inDependencyOrder()) {
      this.decide(item, true);
      if (options.warmUp && this.warmUp(item) && !warming) {
        warming = true;
        // A turn of the event loop, so the first warm-up's request is on its way while the rest is planned.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }

    const taken = new Set([...this.items.values()].flatMap((i) => (i.move ? [i.move.from] : [])));
    for (const record of this.records.values()) {
      if (declared.has(record.id) || taken.has(record.id)) continue;
      const retain = record.spec.removalPolicy === 'retain';
      planned.push({ id: record.id, type: record.type, action: retain ? 'forget' : 'delete', reasons: ['no longer declared'], changes: [] });
    }
    return { stack: this.stack, resources: planned };
  }

  /** Records that move to a new logical id: by alias, then by the same natural key. */
  private findMoves(declared: ReadonlySet<string>): void {
    const claimed = new Set<string>();
    const available = (id: string) => !declared.has(id) && !claimed.has(id) && this.records.has(id);
    for (const item of this.items.values()) {
      if (item.record) continue;
      const alias = item.spec.aliases.find(available);
      if (!alias) continue;
      const old = this.records.get(alias) as ResourceRecord;
      if (old.type !== item.spec.type) {
        item.planned.error = `alias '${alias}' names a ${old.type}, not a ${item.spec.type}`;
        continue;
      }
      claimed.add(alias);
      item.move = { from: alias, why: `moved from '${alias}' (alias)` };
      item.record = old;
    }
    // A rename without an alias: the same object, found by the name the service keeps unique.
    const keyOf = (type: ResourceType, props: unknown) => {
      try {
        return type.naturalKey?.(props as never);
      } catch {
        return undefined;
      }
    };
    // Only records the code no longer declares can move (none on a first deploy: skip the parsing).
    const undeclared = new Set([...this.records.values()].filter((r) => available(r.id)).map((r) => r.type));
    for (const item of this.items.values()) {
      if (item.record || !item.type.naturalKey || !undeclared.has(item.spec.type)) continue;
      const key = keyOf(item.type, this.parse(item.type, this.resolve(item.spec.props, false)));
      if (key === undefined) continue;
      const old = [...this.records.values()].find(
        (r) => available(r.id) && r.type === item.spec.type && keyOf(item.type, this.previousProps(item.type, r)) === key,
      );
      if (!old) continue;
      claimed.add(old.id);
      item.move = { from: old.id, why: `moved from '${old.id}' (the same ${item.type.name} ${key})` };
      item.record = old;
    }
  }

  /** Lets a resource's type start what its first call will need (an access token) while the rest is planned; whether it did. */
  private warmUp(item: Item): boolean {
    const { planned, type, handlerProps } = item;
    if (!type.warmUp || handlerProps === undefined || planned.error || planned.action === 'no-op') return false;
    try {
      type.warmUp(handlerProps, (line) => this.log(item.spec.id, line));
    } catch {
      // The call that needs it reports the problem.
    }
    return true;
  }

  private async readAll(items: Item[]): Promise<void> {
    await runGraph(items.map((i) => i.spec.id), { waitsFor: () => [], parallelism: this.options.parallelism, share: this.itemShare }, async (id) => {
      const item = this.items.get(id) as Item;
      const record = item.record as ResourceRecord;
      try {
        const ctx = this.context(item.spec.id, record);
        const props = this.previousProps(item.type, record);
        item.current = (await this.guard(item.label, 'read', ctx, () => item.type.read(record.physicalId as string, props, ctx))) ?? null;
      } catch (err) {
        item.planned.error = (err as Error).message;
      }
    });
  }

  /** Decides what to do with a declared resource, from what is known now. */
  private decide(item: Item, planning: boolean): void {
    const { planned, record, spec, type } = item;
    if (planned.error) return;
    item.handlerProps = undefined;
    const inputs = (item.inputs = this.resolve(spec.props, planning));
    if (inputs.missing.length > 0) {
      planned.error = missingVariables(inputs.missing);
      return;
    }
    if (inputs.unknown.length === 0) {
      const parsed = this.validate(type, inputs);
      if ('problem' in parsed) {
        planned.error = parsed.problem;
        return;
      }
      item.handlerProps = parsed.props;
    }
    planned.reasons = item.move ? [item.move.why] : [];
    planned.changes = [];
    planned.gone = undefined;
    planned.recordOnly = undefined;
    if (!record) {
      planned.action = 'create';
      if (!this.lostState) {
        planned.reasons.push('new');
      } else if (type.adopt && type.naturalKey) {
        item.adoptFirst = true;
        planned.reasons.push('the state was lost: an existing object with the same name is adopted');
      } else {
        planned.error =
          `it has no record, though Terraform deployed this stack before: the state was lost, and a ${type.name} cannot be found by name. ` +
          `If it still exists, record it with 'pgstacks state import ${this.stack} ${spec.id} <physical id>'; if it does not, ` +
          `with 'pgstacks state import ${this.stack} ${spec.id} --absent'. Then apply again.`;
      }
      return;
    }
    if (!record.physicalId) {
      planned.action = 'create';
      planned.reasons.push('an earlier run was interrupted while creating it; what it made is looked for first');
      return;
    }
    if (item.current === null) {
      planned.action = 'create';
      planned.gone = true;
      planned.reasons.push('deleted outside pgstacks');
      return;
    }
    const unknown = new Set(inputs.unknown);
    const secretPaths = new Set(this.secretChanges(record, inputs));
    const drift = new Set(item.current?.drift ?? []);
    const paths = [...new Set([...diffProps(record.props, inputs.props), ...unknown, ...secretPaths, ...drift])].sort();
    planned.changes = paths.map((path): FieldChange => {
      const before = secretPaths.has(path) ? SENSITIVE : showValue(valueAt(record.props, path));
      const after = unknown.has(path) ? KNOWN_AFTER_APPLY : secretPaths.has(path) ? SENSITIVE : showValue(valueAt(inputs.props, path));
      return { path, before: drift.has(path) && before === after ? `${before ?? 'unset'} (remote differs)` : before, after, forcesReplacement: isImmutable(path, type.immutable), drift: drift.has(path) || undefined };
    });
    const immutable = planned.changes.filter((c) => c.forcesReplacement).map((c) => c.path);
    if (immutable.length > 0) {
      planned.action = 'replace';
      if (spec.removalPolicy === 'retain' && !spec.allowReplacement) {
        const changed = planned.changes.filter((c) => c.forcesReplacement).map((c) => `${c.path} (${c.before ?? 'unset'} -> ${c.after ?? 'unset'})`).join(', ');
        planned.error =
          `changing ${changed} needs a replacement, which would delete ${describe(type, record.physicalId)}, ` +
          `and its removal policy is RETAIN, so pgstacks refused. To replace it, set allowReplacement: true ` +
          `on the construct (or removalPolicy: RemovalPolicy.DESTROY) and deploy again; to keep it, revert the change.`;
      }
    } else if (planned.changes.length > 0) {
      planned.action = 'update';
    } else {
      planned.action = 'no-op';
      const recorded = record.spec;
      const specChanges: string[] = [];
      if (recorded.removalPolicy !== spec.removalPolicy) specChanges.push(`removalPolicy: ${recorded.removalPolicy} -> ${spec.removalPolicy}`);
      if (recorded.allowReplacement !== spec.allowReplacement) specChanges.push(`allowReplacement: ${recorded.allowReplacement} -> ${spec.allowReplacement}`);
      if (item.move) specChanges.push(`logical id: ${item.move.from} -> ${spec.id}`);
      if (specChanges.length > 0) {
        planned.recordOnly = true;
        planned.reasons.push(...specChanges);
      }
    }
  }

  /** Props' paths whose secret value differs from the one last applied. */
  private secretChanges(record: ResourceRecord, inputs: ResolvedProps): string[] {
    const known = record.secretFingerprints;
    const changed: string[] = [];
    for (const [path, value] of leaves(inputs.props)) {
      const keys = secretKeysIn(value).filter((key) => inputs.secrets.has(key));
      const differs = (key: string) => {
        const expected = known?.values[key];
        return !known || !expected || !sameFingerprint(inputs.secrets.get(key) as string, known.salt, expected, known.keyed ? this.stateKey : undefined, known.kdf ?? 'scrypt');
      };
      if (keys.some(differs)) changed.push(path);
    }
    return changed;
  }

  /**
   * Resolves props against the records. While planning, a reference is known only when the
   * resource it points at stays as it is in this run; while executing, what it points at has
   * been applied already (the graph runs it first), so its record is current.
   */
  private resolve(props: JsonObject, planning: boolean): ResolvedProps {
    const resolved = resolveProps(props, { ref: (ref) => this.refValue(ref, planning), env: (name) => this.env[name] });
    for (const value of resolved.secrets.values()) this.logger.redact(value);
    return resolved;
  }

  private refValue(ref: Ref, planning: boolean): RefValue {
    const item = this.items.get(ref.resource);
    // A record moving to a new logical id is still under its old one until the run executes.
    const target = this.records.get(ref.resource) ?? item?.record;
    if (!target || target.status !== 'ready') return { known: false, why: `${ref.resource} is not applied yet` };
    const stays = item?.planned.action === 'no-op' || (item?.planned.action === 'update' && !!item.type.stableAttributes?.includes(ref.attribute));
    if (planning && item && (!stays || item.planned.error)) return { known: false, why: `${ref.resource} changes in this run` };
    if (ref.attribute in target.outputs) return { known: true, value: target.outputs[ref.attribute], secret: false };
    const secret = this.secretOutputs(target)[ref.attribute];
    if (secret !== undefined) {
      this.logger.redact(secret);
      return { known: true, value: secret, secret: true };
    }
    return { known: false, why: `${ref.resource} has no output '${ref.attribute}'` };
  }

  /** The props a record was last applied with, in handler form (for read and delete). */
  private previousProps(type: ResourceType, record: ResourceRecord): unknown {
    const resolved = this.resolve(record.props, false);
    if (resolved.missing.length > 0) throw new PgstacksError(`${record.id} (${record.type}): ${missingVariables(resolved.missing)}`);
    return this.parse(type, resolved);
  }

  private parse(type: ResourceType, resolved: ResolvedProps): unknown {
    const value = substituteSecrets(resolved.props, resolved.secrets);
    const parsed = type.schema.safeParse(value);
    return parsed.success ? parsed.data : value;
  }

  /** The type's schema over the handler form: the props parsed, or a problem as a message. */
  private validate(type: ResourceType, resolved: ResolvedProps): { props: unknown } | { problem: string } {
    for (const value of resolved.secrets.values()) this.logger.redact(value);
    const parsed = type.schema.safeParse(substituteSecrets(resolved.props, resolved.secrets));
    if (parsed.success) return { props: parsed.data };
    return { problem: this.logger.clean(`invalid props: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(props)'}: ${i.message}`).join('; ')}`) };
  }

  /** Declared items, each after the items it references. */
  private inDependencyOrder(): Item[] {
    const ordered: Item[] = [];
    const seen = new Set<string>();
    const visit = (item: Item, path: string[]) => {
      if (seen.has(item.spec.id)) return;
      if (path.includes(item.spec.id)) return; // a cycle: runGraph reports it
      for (const dep of item.dependencies) {
        const target = this.items.get(dep);
        if (target) visit(target, [...path, item.spec.id]);
      }
      seen.add(item.spec.id);
      ordered.push(item);
    };
    for (const item of this.items.values()) visit(item, []);
    return ordered;
  }

  /** See LifecycleEngine.importRecord. */
  async importRecord(manifest: StackManifest, id: string, physicalId: string | undefined): Promise<string> {
    const spec = manifest.resources.find((r) => r.id === id);
    if (!spec) throw new PgstacksError(`stack '${this.stack}' declares no resource '${id}' (it declares: ${manifest.resources.map((r) => r.id).join(', ') || 'none'})`);
    const type = this.requireType({ id, type: spec.type } as ResourceRecord);
    const existing = this.records.get(id);
    if (existing) {
      throw new PgstacksError(`${id} is recorded already (${describe(type, existing.physicalId)}); to replace the record, forget it first with 'pgstacks state rm ${this.stack} ${id}'`);
    }
    const inputs = this.resolve(spec.props, false);
    if (inputs.missing.length) throw new PgstacksError(`${id}: ${missingVariables(inputs.missing)}`);
    if (inputs.unknown.length) throw new PgstacksError(`${id}: import the resources it references first (${inputs.unknown.join(', ')})`);
    const item: Item = { spec, type, label: `${id} (${spec.type})`, dependencies: dependenciesOf(spec.props), inputs, planned: { id, type: spec.type, action: 'create', reasons: [], changes: [] } };
    const now = new Date().toISOString();
    const base: ResourceRecord = { stack: this.stack, id, type: spec.type, status: 'creating', spec, props: {}, outputs: {}, dependencies: [], createdAt: now, updatedAt: now, handlerVersion: this.options.version };
    if (physicalId === undefined) {
      await this.save(this.nextRecord(item, base));
      return `recorded ${id} as not existing: the next apply creates it`;
    }
    const owner = this.ownerOf(type.name, physicalId, id);
    if (owner) throw new PgstacksError(`${describe(type, physicalId)} is recorded already, as '${owner.id}'; one remote object has one owner`);
    const props = type.schema.parse(substituteSecrets(inputs.props, inputs.secrets));
    const ctx = this.context(id, undefined);
    const found = await this.guard(item.label, 'read', ctx, () => type.read(physicalId, props, ctx));
    if (!found) throw new PgstacksError(`${item.label}: there is no ${describe(type, physicalId)} to import (the service does not know it)`);
    await this.save({ ...this.nextRecord(item, base), status: 'ready', physicalId, ...this.storedOutputs(item, found.outputs, {}) });
    return `imported ${describe(type, physicalId)} as ${id}${type.secretAttributes?.length ? ` (its secret outputs, ${type.secretAttributes.join(', ')}, cannot be read back)` : ''}`;
  }

  // ============================================================= execution

  async execute(hooks: RunHooks): Promise<void> {
    const started = Date.now();
    for (const item of this.items.values()) if (item.move) await this.move(item);

    const failures = new Map<string, Error>();
    const declared = new Set(this.items.keys());
    const removed = [...this.records.values()].filter((r) => !declared.has(r.id));
    for (const [id, err] of await this.removeGraph(removed, 'prune', hooks)) failures.set(id, err);

    const ids = this.inDependencyOrder().map((i) => i.spec.id);
    const waitsFor = (id: string) => (this.items.get(id) as Item).dependencies;
    for (const [id, err] of await runGraph(ids, { waitsFor, parallelism: this.options.parallelism, share: this.itemShare, stopReason: hooks.stopReason }, (id) => this.applyItem(this.items.get(id) as Item))) {
      failures.set(id, err);
    }
    const withPending = [...this.records.values()].filter((r) => r.pendingDeletes?.length && !failures.has(r.id));
    for (const [id, err] of await this.graphOverRecords(withPending, hooks, (record) => this.drainPendingDeletes(record))) failures.set(id, err);

    if (failures.size > 0) {
      const lines = [...failures].map(([id, err]) => `  ${id}: ${this.logger.clean(err.message)}`);
      throw new PgstacksError(`${failures.size} of ${this.items.size + removed.length} resources were not applied:\n${lines.join('\n')}`);
    }
    this.logger.line(`stack '${this.stack}' matches the code: ${this.items.size} resource${this.items.size === 1 ? '' : 's'} in ${formatDuration(Date.now() - started)}`);
  }

  /** Deletes (DESTROY) or forgets (RETAIN) every given record, dependents first. */
  async removeAll(records: readonly ResourceRecord[], reason: 'destroy' | 'prune', hooks: RunHooks): Promise<void> {
    const failures = await this.removeGraph(records, reason, hooks);
    if (failures.size > 0) {
      throw new PgstacksError(`${failures.size} of ${records.length} resources were not deleted:\n${[...failures].map(([id, err]) => `  ${id}: ${this.logger.clean(err.message)}`).join('\n')}`);
    }
  }

  private removeGraph(records: readonly ResourceRecord[], reason: 'destroy' | 'prune', hooks: RunHooks): Promise<Map<string, Error>> {
    return this.graphOverRecords(records, hooks, (record) => this.removeRecord(record, reason));
  }

  /** Runs `fn` over records so that a record goes after every record that depends on it. */
  private graphOverRecords(records: readonly ResourceRecord[], hooks: RunHooks, fn: (record: ResourceRecord) => Promise<void>): Promise<Map<string, Error>> {
    const byId = new Map(records.map((r) => [r.id, r]));
    const dependents = (id: string) => records.filter((r) => r.dependencies.includes(id)).map((r) => r.id);
    const share = (id: string) => shareOf(this.typeOf((byId.get(id) as ResourceRecord).type));
    return runGraph([...byId.keys()], { waitsFor: dependents, parallelism: this.options.parallelism, share, stopReason: hooks.stopReason }, (id) =>
      fn(byId.get(id) as ResourceRecord),
    );
  }

  private readonly itemShare = (id: string) => shareOf((this.items.get(id) as Item).type);

  private async move(item: Item): Promise<void> {
    const { from } = item.move as { from: string };
    const record = item.record as ResourceRecord;
    const moved: ResourceRecord = { ...record, id: item.spec.id };
    await this.save(moved);
    await this.store.remove(this.stack, from);
    this.records.delete(from);
    item.record = moved;
    this.log(item.spec.id, `${(item.move as { why: string }).why}: ${describe(item.type, record.physicalId)} kept`);
  }

  private async applyItem(item: Item): Promise<void> {
    const started = Date.now();
    const took = () => formatDuration(Date.now() - started);
    if (item.inputs?.unknown.length) {
      // Values that were unknown at plan time are known now that what it references is applied.
      item.record = this.records.get(item.spec.id) ?? item.record;
      this.decide(item, false);
      if (item.inputs.unknown.length) throw new PgstacksError(`${item.label}: could not resolve ${item.inputs.unknown.join(', ')}`);
    }
    const { planned, type, spec } = item;
    if (planned.error) throw new PgstacksError(`${item.label}: ${planned.error}`);
    const inputs = item.inputs as ResolvedProps;
    const handlerProps = item.handlerProps ?? type.schema.parse(substituteSecrets(inputs.props, inputs.secrets));
    const record = (item.record = this.records.get(spec.id) ?? item.record);
    const ctx = this.context(spec.id, record, planned.changes.map((c) => c.path));

    switch (planned.action) {
      case 'create': {
        const recovering = (!!record && !record.physicalId) || !!item.adoptFirst;
        const result = await this.createObject(item, handlerProps, ctx, recovering);
        const verb = planned.gone ? 're-created (it was deleted outside pgstacks)' : 'created';
        this.log(spec.id, `${verb} ${describe(type, result.physicalId)} in ${took()}`);
        return;
      }
      case 'update': {
        const current = record as ResourceRecord;
        const update = type.update?.bind(type);
        if (!update) throw new PgstacksError(`${item.label}: ${type.name} cannot be updated in place`);
        const oldProps = this.previousProps(type, current);
        const result = await this.guard(item.label, 'update', ctx, () => update(current.physicalId as string, oldProps, handlerProps, ctx));
        this.redactValues(result.secretOutputs);
        const secret = { ...this.secretOutputs(current), ...result.secretOutputs };
        await this.save({ ...this.nextRecord(item, current), status: 'ready', ...this.storedOutputs(item, { ...current.outputs, ...result.outputs }, secret) });
        this.log(spec.id, `updated ${describe(type, current.physicalId)} in place (${planned.changes.map((c) => c.path).join(', ')}) in ${took()}`);
        return;
      }
      case 'replace':
        await this.replaceObject(item, handlerProps, ctx);
        this.log(spec.id, `replaced (${planned.changes.filter((c) => c.forcesReplacement).map((c) => c.path).join(', ')} changed): now ${describe(type, item.record?.physicalId)} in ${took()}`);
        return;
      default: {
        const current = record as ResourceRecord;
        const read = item.current?.outputs ?? {};
        // Declared and found: ready, also when an earlier removal of it failed (left `deleting`),
        // or what references it could never resolve its outputs again.
        const base: ResourceRecord = { ...this.nextRecord(item, current), status: 'ready' };
        const next = Object.keys(read).length
          ? { ...base, ...this.storedOutputs(item, { ...current.outputs, ...read }, this.secretOutputs(current)) }
          : base;
        if (JSON.stringify(next) !== JSON.stringify(current)) await this.save(next);
        this.log(spec.id, `${describe(type, current.physicalId)} is up to date${planned.recordOnly ? ` (recorded: ${planned.reasons.join('; ')})` : ''}`);
      }
    }
  }

  /**
   * Outputs as stored: an output that repeats one of the resource's secret inputs (an API that
   * echoes a token back) is kept with the secret outputs, so it is never stored or shown in plain.
   */
  private storedOutputs(item: Item, outputs: Outputs, secret: Record<string, string>): Pick<ResourceRecord, 'outputs' | 'secretOutputs'> {
    const secrets = [...((item.inputs as ResolvedProps).secrets.values())].filter((v) => v.length >= 4);
    const plain: Outputs = {};
    const hidden: Record<string, string> = { ...secret };
    for (const [name, value] of Object.entries(outputs)) {
      if (typeof value === 'string' && secrets.some((s) => value.includes(s))) hidden[name] = value;
      else plain[name] = value;
    }
    for (const name of Object.keys(plain)) delete hidden[name];
    // Without a key, and without leave to store plain text, an echoed secret is not kept at all
    // (a type's own secret outputs never get here: checkPlaintext stopped the run).
    const keep = Object.keys(hidden).length > 0 && (!!this.stateKey || !!this.options.allowPlaintextSecrets);
    return { outputs: plain, secretOutputs: keep ? sealSecrets(hidden, this.stateKey) : undefined };
  }

  /** The record with the spec and props of this run (the other fields are the caller's). */
  private nextRecord(item: Item, base: ResourceRecord): ResourceRecord {
    const inputs = item.inputs as ResolvedProps;
    return {
      ...base,
      id: item.spec.id,
      spec: item.spec,
      props: inputs.props,
      dependencies: [...item.dependencies],
      secretFingerprints: fingerprints(inputs.secrets, this.stateKey),
    };
  }

  /** Writes the intent record, then creates (or, after an interrupted create, adopts) the object. */
  private async createObject(item: Item, props: unknown, ctx: OperationContext, recovering: boolean): Promise<CreateResult> {
    const now = new Date().toISOString();
    const base: ResourceRecord = item.record ?? {
      stack: this.stack, id: item.spec.id, type: item.spec.type, status: 'creating', spec: item.spec, props: {}, outputs: {},
      dependencies: [], createdAt: now, updatedAt: now, handlerVersion: this.options.version,
    };
    const intent: ResourceRecord = { ...this.nextRecord(item, base), status: 'creating', physicalId: undefined, outputs: {}, secretOutputs: undefined, checkpoint: recovering ? base.checkpoint : undefined };
    await this.save(intent);
    ctx.bind(intent);
    const result = await this.createOrAdopt(item, props, ctx, recovering);
    await this.commit(item, result);
    return result;
  }

  private async createOrAdopt(item: Item, props: unknown, ctx: OperationContext, recovering: boolean): Promise<CreateResult> {
    const { type, label } = item;
    if (recovering) {
      if (type.adopt) {
        const adopt = type.adopt.bind(type);
        const found = await this.guard(label, 'adopt', ctx, () => adopt(props, ctx));
        const isOld = found && item.record?.pendingDeletes?.some((p) => p.physicalId === found.physicalId);
        if (found && !isOld) {
          this.log(item.spec.id, `adopted ${describe(type, found.physicalId)} ${item.adoptFirst ? 'found by its name' : 'left by an interrupted apply'}`);
          this.redactValues(found.secretOutputs);
          return found;
        }
      } else {
        this.log(item.spec.id, `an earlier apply was interrupted and ${type.name} cannot look for what it made; creating again`);
      }
    }
    const result = await this.guard(label, 'create', ctx, () => type.create(props, ctx));
    this.redactValues(result.secretOutputs);
    return result;
  }

  /** Records a created object, after checking that no other live record owns it. */
  private async commit(item: Item, result: CreateResult): Promise<void> {
    const owner = this.ownerOf(item.spec.type, result.physicalId, item.spec.id);
    if (owner) {
      if (this.items.has(owner.id)) {
        throw new PgstacksError(
          `${item.label}: ${describe(item.type, result.physicalId)} is already managed by '${owner.id}'. ` +
            `One remote object can have only one owner: remove one of the two constructs, or give one of them another name.`,
        );
      }
      // A record the code no longer declares (its delete failed or was skipped): the new one takes over.
      await this.store.remove(this.stack, owner.id);
      this.records.delete(owner.id);
      this.log(item.spec.id, `took ${describe(item.type, result.physicalId)} over from '${owner.id}', which is no longer declared`);
    }
    const record = this.records.get(item.spec.id) as ResourceRecord;
    await this.save({
      ...record,
      status: 'ready',
      physicalId: result.physicalId,
      ...this.storedOutputs(item, result.outputs, result.secretOutputs ?? {}),
      checkpoint: undefined,
    });
  }

  private async replaceObject(item: Item, props: unknown, ctx: OperationContext): Promise<void> {
    const record = item.record as ResourceRecord;
    const old = record.physicalId as string;
    if (item.type.replaceOrder === 'create-before-delete') {
      // The old object is deleted at the end of the run, after everything that references it moved on.
      const pendingDeletes = [...(record.pendingDeletes ?? []), { physicalId: old, props: record.props }];
      await this.save({ ...record, pendingDeletes });
      item.record = this.records.get(record.id);
      await this.createObject(item, props, ctx, false);
      return;
    }
    await this.save({ ...record, status: 'deleting' });
    await this.deleteObject(item.label, item.type, record, old, ctx);
    this.log(item.spec.id, `deleted ${describe(item.type, old)} to replace it`);
    item.record = this.records.get(record.id);
    await this.createObject(item, props, ctx, false);
  }

  private async drainPendingDeletes(record: ResourceRecord): Promise<void> {
    const type = this.requireType(record);
    let current = record;
    while (current.pendingDeletes?.length) {
      const [pending] = current.pendingDeletes;
      const old = { ...current, props: pending.props };
      await this.deleteObject(`${record.id} (${record.type})`, type, old, pending.physicalId, this.context(record.id, current));
      this.log(record.id, `deleted the replaced ${describe(type, pending.physicalId)}`);
      current = { ...current, pendingDeletes: current.pendingDeletes.slice(1) };
      await this.save(current);
    }
  }

  private async removeRecord(record: ResourceRecord, reason: 'destroy' | 'prune'): Promise<void> {
    const started = Date.now();
    const type = this.requireType(record);
    const label = `${record.id} (${record.type})`;
    const why = reason === 'prune' ? ' (no longer in the code)' : '';
    await this.drainPendingDeletes(record);
    if (record.spec.removalPolicy === 'retain') {
      await this.forget(record);
      this.log(record.id, `forgot${why}: removal policy RETAIN, so ${describe(type, record.physicalId)} was kept. Delete it by hand if it is no longer needed.`);
      return;
    }
    const ctx = this.context(record.id, record, [], true);
    let physicalId = record.physicalId;
    if (!physicalId && type.adopt) {
      // An interrupted create may have made the object; find it so nothing is orphaned.
      const adopt = type.adopt.bind(type);
      const props = this.previousProps(type, record);
      physicalId = (await this.guard(label, 'adopt', ctx, () => adopt(props, ctx)))?.physicalId;
    }
    if (physicalId) {
      await this.save({ ...(this.records.get(record.id) as ResourceRecord), status: 'deleting' });
      await this.deleteObject(label, type, record, physicalId, ctx);
    }
    await this.forget(record);
    this.log(record.id, `deleted${why} ${describe(type, physicalId)} in ${formatDuration(Date.now() - started)}`);
  }

  /** Deletes a remote object, unless another live record owns it now. */
  private async deleteObject(label: string, type: ResourceType, record: ResourceRecord, physicalId: string, ctx: OperationContext): Promise<void> {
    const owner = this.ownerOf(type.name, physicalId, record.id);
    if (owner) {
      this.log(record.id, `kept ${describe(type, physicalId)}: '${owner.id}' owns it now`);
      return;
    }
    const props = this.previousProps(type, record);
    await this.guard(label, 'delete', ctx, () => type.delete(physicalId, props, ctx));
  }

  private async forget(record: ResourceRecord): Promise<void> {
    await this.store.remove(this.stack, record.id);
    this.records.delete(record.id);
  }

  /** Another record that holds the same remote object. */
  private ownerOf(typeName: string, physicalId: string, except: string): ResourceRecord | undefined {
    for (const r of this.records.values()) {
      if (r.id !== except && r.type === typeName && r.physicalId === physicalId && r.status !== 'creating') return r;
    }
    return undefined;
  }

  // =============================================================== helpers

  private typeOf(name: string): ResourceType | undefined {
    return (this.options.resolveType ?? getResourceType)(name);
  }

  private requireType(record: ResourceRecord): ResourceType {
    const type = this.typeOf(record.type);
    if (!type) {
      throw new PgstacksError(
        `unknown resource type '${record.type}': the handler bundle has no such type. Keep a construct of that type in the stack ` +
          `(or name the type in Pgstacks.configure's resourceTypes), or forget the record with 'pgstacks state rm ${this.stack} ${record.id}'.`,
      );
    }
    return type;
  }

  private get stateKey(): string | undefined {
    return this.env[STATE_KEY_VARIABLE] || undefined;
  }

  private secretOutputs(record: ResourceRecord): Record<string, string> {
    return record.secretOutputs ? openSecrets(record.secretOutputs, this.stateKey) : {};
  }

  private redactValues(values: Record<string, string> | undefined): void {
    for (const value of Object.values(values ?? {})) this.logger.redact(value);
  }

  private log(id: string, message: string): void {
    this.logger.line(`${id}: ${message}`);
  }

  private async save(record: ResourceRecord): Promise<void> {
    const next = { ...record, updatedAt: new Date().toISOString(), handlerVersion: this.options.version };
    await this.store.put(next);
    this.records.set(next.id, next);
  }

  private readonly deadlines = new Map<number, { readonly signal: AbortSignal; readonly at: number }>();

  /**
   * A signal that aborts `timeoutMs` from now, give or take a hundredth (at most 100 ms): calls
   * starting together share one, as a timer and an EventTarget each cost ~0.1 ms on Node 20.
   */
  private deadline(timeoutMs: number): AbortSignal {
    const now = Number(process.hrtime.bigint() / 1_000_000n); // monotonic; the performance global would load perf_hooks (~2 ms)
    const shared = this.deadlines.get(timeoutMs);
    if (shared && now - shared.at <= Math.min(100, timeoutMs / 100)) return shared.signal;
    const signal = AbortSignal.timeout(timeoutMs);
    setMaxListeners(0, signal); // each call of each resource sharing it listens
    this.deadlines.set(timeoutMs, { signal, at: now });
    return signal;
  }

  /** A handler context with its deadline; `bind` points its checkpoints at a record. */
  private context(id: string, record: ResourceRecord | undefined, changes: readonly string[] = [], removing = false): OperationContext {
    let bound = record;
    const run = this;
    const seconds = (this.items.get(id)?.spec ?? record?.spec)?.timeoutSeconds;
    const timeoutMs = seconds ? seconds * 1000 : this.options.timeoutMs;
    const ctx: OperationContext = {
      stack: this.stack,
      logicalId: id,
      log: (message) => this.log(id, message),
      checkpoint: async (data) => {
        if (!bound) return;
        bound = { ...(this.records.get(bound.id) ?? bound), checkpoint: data };
        await run.save(bound);
      },
      get recovery() {
        return (bound && run.records.get(bound.id)?.checkpoint) ?? bound?.checkpoint;
      },
      redact: (value) => this.logger.redact(value),
      recorded: record?.outputs,
      removing,
      signal: this.deadline(timeoutMs),
      timeoutMs,
      changes,
      bind: (next) => {
        bound = next;
      },
    };
    return ctx;
  }

  /** Runs one handler call, failing with a clear message at the deadline. */
  private async guard<T>(label: string, call: string, ctx: HandlerContext, fn: () => Promise<T>): Promise<T> {
    const { signal } = ctx;
    const timeout = formatDuration((ctx as Partial<OperationContext>).timeoutMs ?? this.options.timeoutMs);
    if (signal.aborted) throw new PgstacksError(`${label}: timed out (${timeout}) before ${call}`);
    let onAbort: () => void = () => undefined;
    const deadline = new Promise<never>((_, reject) => {
      onAbort = () => reject(new PgstacksError(`${label}: ${call} timed out after ${timeout}`));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    const work = fn();
    try {
      return await Promise.race([work, deadline]);
    } catch (err) {
      if (signal.aborted) {
        // The handler hears the same deadline and usually says more (which operation it waited
        // for, which may still finish): give it a moment to say it.
        const own = await Promise.race([work.then(() => undefined, (e: unknown) => e), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
        const said = own instanceof Error && own.name !== 'AbortError' && own.name !== 'TimeoutError' ? `: ${own.message}` : '';
        throw new PgstacksError(this.logger.clean(`${label}: ${call} timed out after ${timeout}${said}`));
      }
      if (err instanceof PgstacksError || err instanceof SkippedError) throw err;
      // Cleaned here, so a secret an API echoed back never travels further in the message.
      throw new PgstacksError(this.logger.clean(`${label}: ${call} failed: ${(err as Error).message ?? String(err)}`));
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
}

interface OperationContext extends HandlerContext {
  /** The resource's deadline: its spec's `timeoutSeconds`, else the run's. */
  readonly timeoutMs: number;
  bind(record: ResourceRecord): void;
}

/** The manifest with each connection's props in place of its `$connection` markers. */
function withConnections(manifest: StackManifest): StackManifest {
  const connections = new Map((manifest.connections ?? []).map((c) => [c.id, c.props]));
  try {
    return { ...manifest, connections: [], resources: manifest.resources.map((spec) => ({ ...spec, props: expandConnections(spec.props, connections) as JsonObject })) };
  } catch (err) {
    throw new PgstacksError((err as Error).message);
  }
}

function missingVariables(names: readonly string[]): string {
  const list = names.join(', ');
  const many = names.length > 1;
  return `needs the environment variable${many ? 's' : ''} ${list} (Secret.fromEnv), but ${many ? 'they are' : 'it is'} not set. Export ${list} in the shell that runs terraform/cdktf, then apply again.`;
}

/** The secret keys a stored-form value holds. */
function secretKeysIn(value: Json): string[] {
  if (isSecretMarker(value) || isRefMarker(value)) return [secretKey(value)];
  if (isConcatMarker(value)) return value.$concat.flatMap((p) => (isSecretMarker(p) || isRefMarker(p) ? [secretKey(p)] : []));
  return [];
}

function fingerprints(secrets: ReadonlyMap<string, string>, stateKey: string | undefined): ResourceRecord['secretFingerprints'] {
  if (secrets.size === 0) return undefined;
  const salt = newSalt();
  const values = Object.fromEntries([...secrets].map(([key, value]) => [key, fingerprint(value, salt, stateKey)]));
  return stateKey ? { salt, keyed: true, kdf: kdfOf(stateKey), values } : { salt, values };
}

/** How much of the parallelism one resource of `type` takes: its calls may share requests. */
const shareOf = (type: ResourceType | undefined) => 1 / (type?.itemsPerCall ?? 1);

const describe = (type: ResourceType, physicalId: string | undefined) => `${type.name} ${physicalId ?? '(never created)'}`;


/**
 * Per-stack wiring (docs/lifecycle.md): one lifecycle resource per pgstacks construct, carrying
 * its spec for Terraform's plan; the reconciler, which runs the engine once per apply over the
 * stack manifest; the rerun, which runs it when a lifecycle resource alone was replaced; the
 * teardown, whose destroy provisioner deletes what the stack made; and the handler and manifest
 * assets they run.
 */
import { NullProvider } from '@cdktf/provider-null/lib/provider';
import { Resource as NullResource } from '@cdktf/provider-null/lib/resource';
import {
  anyToHclTerraform,
  anyToTerraform,
  App,
  AssetType,
  Aspects,
  Fn,
  hashMapper,
  hashMapperHcl,
  Lazy,
  TerraformAsset,
  TerraformResource,
  TerraformStack,
  Token,
  type IResolvable,
  type TerraformMetaArguments,
} from 'cdktf';
import { Construct, type IConstruct } from 'constructs';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HANDLER_FILE, handlerBundle, synthWorkDirectory, type BundledType } from '../../src/runtime/bundle';
import { HANDLER_ENV, type HandlerCommand } from '../../src/runtime/handler-env';
import type { ResourceType } from '../../src/runtime/resource-type';
import { NO_UNFINISHED_RUN } from '../../src/runtime/run-marker';
import { canonicalize, encodeTriggers, isMarkerValue, isObject, specJson, type Json, type JsonObject, type ResourceSpec } from '../../src/runtime/spec';
import { DEFAULT_STATE_DIR_VARIABLE, STATE_DATABASE_FROM_VARIABLE, STATE_SCHEMA_VARIABLE } from '../../src/runtime/state/location';
import { StateBackend } from './state-backend';

/** The Terraform resource type that carries each pgstacks resource's lifecycle. */
export enum LifecycleResourceKind {
  /** `terraform_data`, built into Terraform >= 1.4: nothing to download. */
  TERRAFORM_DATA = 'terraform_data',
  /** `null_resource` from the hashicorp/null provider; the stack gets a NullProvider automatically. */
  NULL_RESOURCE = 'null_resource',
}

/** Stack-wide pgstacks settings. */
export interface PgstacksOptions {
  /**
   * The Terraform resource type each pgstacks resource synthesizes.
   * @default LifecycleResourceKind.TERRAFORM_DATA
   */
  readonly lifecycleResource?: LifecycleResourceKind;
  /**
   * Where the engine keeps its records: `StateBackend.local()` or `StateBackend.postgres(...)`.
   * A local directory is synthesized as a path relative to the stack's output folder, so a
   * copied `cdktf.out` keeps its records next to where it is applied. At deploy time
   * PGSTACKS_STATE_DIR (a directory) or PGSTACKS_STATE_DATABASE_URL (PostgreSQL) override it.
   * @default StateBackend.local('.pgstacks/state'), next to cdktf.json like Terraform's own local state
   */
  readonly stateBackend?: StateBackend;
  /**
   * The local state directory, relative to the folder of cdktf.json.
   * @default '.pgstacks/state'
   * @deprecated use `stateBackend: StateBackend.local(directory)`
   */
  readonly stateDirectory?: string;
  /**
   * Resource types the stack's handler must know besides the built-in ones and those of its
   * constructs: a custom type whose last construct is removed, so the engine can still delete
   * what it made.
   * @default - none
   */
  readonly resourceTypes?: ResourceType[];
  /**
   * Store secret outputs (a gateway user's password) in plain text when PGSTACKS_STATE_KEY is not
   * set. Without a key and without this, a deploy that would store one stops before its first
   * write. Prefer a key: anyone who can read the state store can read plain-text secrets.
   * @default false
   */
  readonly plaintextSecretOutputs?: boolean;
}

/** Stack-wide settings for pgstacks resources. */
export class Pgstacks {
  /**
   * Configures pgstacks for one stack. Call it before creating the stack's first pgstacks
   * resource. A configured stack keeps its reconciler even with no pgstacks construct left, so
   * removing the last one still deletes its remote object.
   */
  static configure(stack: TerraformStack, options: PgstacksOptions = {}): void {
    if (stack.node.tryFindChild(RUNTIME_ID)) {
      throw new Error(`Pgstacks.configure(${stack.node.path}): call it before the stack's first pgstacks resource is created`);
    }
    new PgstacksRuntime(stack, options);
  }
}

/**
 * `terraform_data` with only `triggers_replace`. cdktf's DataResource checks the Terraform version
 * by running `terraform version` once per resource at synth; the runtime checks it once per stack.
 */
class TerraformData extends TerraformResource {
  static readonly tfResourceType = 'terraform_data';

  constructor(scope: Construct, id: string, private readonly triggersReplace: JsonObject | IResolvable, meta: TerraformMetaArguments) {
    super(scope, id, { terraformResourceType: 'terraform_data', terraformGeneratorMetadata: { providerName: 'terraform' }, ...meta });
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return { triggers_replace: hashMapper(anyToTerraform)(this.triggersReplace) };
  }

  protected override synthesizeHclAttributes(): Record<string, unknown> {
    return { triggers_replace: hashMapperHcl(anyToHclTerraform)(this.triggersReplace) };
  }
}

const RUNTIME_ID = 'pgstacks';
const RECONCILER_NAME = 'pgstacks';
const RERUN_NAME = 'pgstacks_rerun';
const START_NAME = 'pgstacks_start';
const TEARDOWN_NAME = 'pgstacks_teardown';
const MARKER_FILE = '.unfinished-run';
const RECONCILED_FILE = '.reconciled';
const NEW_DEPLOYMENT_FILE = '.new-deployment';

interface Prepared {
  readonly handler: TerraformAsset;
  readonly manifest: TerraformAsset;
  readonly manifestHash: string;
}

/** A construct's lifecycle resource, written into the stack's Terraform JSON at prepare. */
interface Lifecycle {
  /** Its Terraform name: `terraform_data.<name>`. */
  readonly name: string;
  /** The construct path it belongs to (the `//` metadata cdktf gives a resource). */
  readonly path: string;
  /** What Terraform's plan shows: `{ spec: <JSON text> }`, where Terraform values are still tokens. */
  readonly triggers: Record<string, string>;
}

interface Entry extends Lifecycle {
  readonly spec: ResourceSpec;
  readonly typeModule: string;
  /** Its spec's manifest text, when it holds no Terraform value (made once, at register). */
  readonly json?: string;
}

/**
 * The handler's Node flags. `--liftoff-only`: undici's HTTP parser is WebAssembly, which V8
 * otherwise compiles a second time with its optimizing compiler, on another thread (~50 ms of CPU
 * per engine run, for a parser that reads a few hundred responses). `--min-semi-space-size=16`:
 * a young generation that starts at 16 MB, so loading the bundle and planning take fewer
 * scavenges (~10 ms of CPU per engine run, for ~16 MB more memory). `--interrupt-budget`: V8
 * optimizes a function (on another thread) once it has run ~66 KB of bytecode, and in a run of a
 * few hundred milliseconds most of that work is never paid back; 16 times that budget saves
 * ~25 ms of CPU per engine run over 100 resources (~100 ms over 1,000), and a long loop is still
 * optimized, a little later.
 */
const HANDLER_NODE_FLAGS = '--liftoff-only --min-semi-space-size=16 --interrupt-budget=1048576';

interface ConnectionEntry extends Lifecycle {
  readonly id: string;
  readonly props: JsonObject;
}

/** @internal The per-stack singleton behind every pgstacks resource. */
export class PgstacksRuntime extends Construct {
  static of(scope: IConstruct): PgstacksRuntime {
    const stack = TerraformStack.of(scope);
    return (stack.node.tryFindChild(RUNTIME_ID) as PgstacksRuntime | undefined) ?? new PgstacksRuntime(stack, {});
  }

  readonly stackName: string;
  readonly kind: LifecycleResourceKind;
  /** Runs the engine when the manifest changed or the last run did not finish. */
  readonly reconciler: TerraformResource;
  /**
   * The last of the stack's pgstacks resources: after the reconciler and every lifecycle
   * resource. A user's resource that depends on a pgstacks construct waits for it.
   */
  readonly rerun: TerraformResource;
  /** Every lifecycle resource waits for it, so Terraform starts the reconciler first. */
  private readonly start: TerraformResource;
  private readonly teardown: TerraformResource;
  private readonly stateDirectory: string;
  private readonly extraTypes: BundledType[];
  private readonly entries: Entry[] = [];
  /** Some resource has secret outputs (the manifest says so, for the handler to derive the state key early). */
  private secretOutputs = false;
  private readonly connections: ConnectionEntry[] = [];
  private readonly names = new Map<string, string>([
    [RECONCILER_NAME, '(reconciler)'],
    [RERUN_NAME, '(rerun)'],
    [START_NAME, '(start)'],
    [TEARDOWN_NAME, '(teardown)'],
  ]);
  /** Terraform-only values in specs (another provider's attribute), by the variable that carries them. */
  private readonly terraformValues = new Map<string, unknown>();
  private prepared?: Prepared;

  constructor(stack: TerraformStack, options: PgstacksOptions) {
    super(stack, RUNTIME_ID);
    this.stackName = stack.node.id;
    this.kind = options.lifecycleResource ?? LifecycleResourceKind.TERRAFORM_DATA;
    this.extraTypes = (options.resourceTypes ?? []).map((t) => ({ name: t.name, module: t.module }));
    const project = projectDirectory(this);
    const stackOutput = path.resolve(project, App.of(stack).outdir, 'stacks', this.stackName);
    const backend = options.stateBackend ?? StateBackend.local(options.stateDirectory);
    this.stateDirectory = toPosix(path.relative(stackOutput, path.resolve(project, backend.directory ?? path.join('.pgstacks', 'state'))));
    // terraform_data needs Terraform >= 1.4 (replace_triggered_by 1.2). Declared rather than
    // checked: Terraform refuses an older version with a clear message, and synth runs no process.
    stack.addOverride('terraform.required_version', '>= 1.4');
    const markerDir = `${this.stateDirectory}/${encodeURIComponent(this.stackName)}`;
    const markerFile = `${markerDir}/${MARKER_FILE}`;
    const self = (field: string) => `\${self.${this.triggersAttribute}.${field}}`;
    const stateEnv = {
      [HANDLER_ENV.stack]: this.stackName,
      [DEFAULT_STATE_DIR_VARIABLE]: this.stateDirectory,
      [HANDLER_ENV.runMarker]: markerFile,
      ...(backend.kind === 'postgres' ? { [STATE_DATABASE_FROM_VARIABLE]: backend.connectionVariable as string, [STATE_SCHEMA_VARIABLE]: backend.schema as string } : {}),
      ...(options.plaintextSecretOutputs ? { [HANDLER_ENV.plaintextSecrets]: 'true' } : {}),
    };
    // Never tainted (its create-time work may fail without failing the apply), and replaced
    // create-before-destroy (the deposed copy goes without its destroy provisioner): its destroy
    // provisioner runs on a real destroy only, whatever happened to the applies before. When
    // Terraform creates it, it leaves its id for the reconciler: the records then belong to a new
    // deployment (a shell command: no second Node process on a first deploy).
    this.teardown = this.resource(this, 'teardown', TEARDOWN_NAME, { stack: this.stackName }, { lifecycle: { createBeforeDestroy: true } });
    const newDeploymentFile = `${markerDir}/${NEW_DEPLOYMENT_FILE}`;
    this.teardown.addOverride('provisioner', [
      {
        'local-exec': {
          command: `umask 077 && mkdir -p "$$\{${HANDLER_ENV.newDeployment}%/*}" && printf '%s\\n' "$${HANDLER_ENV.deployment}" > "$${HANDLER_ENV.newDeployment}"`,
          quiet: true,
          on_failure: 'continue',
          environment: { [HANDLER_ENV.deployment]: '${self.id}', [HANDLER_ENV.newDeployment]: newDeploymentFile },
        },
      },
      this.handlerRun('destroy', stateEnv, { when: 'destroy' }),
    ]);
    this.start = this.resource(this, 'start', START_NAME, { stack: this.stackName }, {});
    this.start.dependsOn = [address(this.teardown)]; // an address, not a token that cdktf would keep for good

    const triggers = Lazy.anyValue({
      produce: () => ({
        manifest: this.prepare().manifestHash,
        // Read at plan time: a run that did not finish changes it (src/runtime/run-marker.ts).
        unfinished_run: `\${fileexists("${markerFile}") ? trimspace(file("${markerFile}")) : "${NO_UNFINISHED_RUN}"}`,
      }),
    });
    this.reconciler = this.resource(this, 'reconciler', RECONCILER_NAME, triggers, {});
    const reconcileEnv = (reconciler: string, plannedRun: string) =>
      Lazy.anyValue({
        produce: () => ({
          [HANDLER_ENV.manifest]: this.prepare().manifest.path,
          [HANDLER_ENV.plannedRun]: plannedRun,
          [HANDLER_ENV.deployment]: `\${${address(this.teardown)}.id}`,
          [HANDLER_ENV.newDeployment]: newDeploymentFile,
          [HANDLER_ENV.reconciler]: reconciler,
          [HANDLER_ENV.reconciled]: `${markerDir}/${RECONCILED_FILE}`,
          ...stateEnv,
          ...Object.fromEntries([...this.terraformValues].map(([name, value]) => [name, Fn.jsonencode(value)])),
        }),
      });
    this.reconciler.addOverride('provisioner', [this.handlerRun('reconcile', reconcileEnv('${self.id}', self('unfinished_run')))]);

    // Replaced with the reconciler, and whenever a lifecycle resource is replaced (`-replace`,
    // taint); it runs the engine unless the reconciler already did in this apply.
    const reconcilerId = `\${${address(this.reconciler)}.id}`;
    this.rerun = this.resource(this, 'rerun', RERUN_NAME, { reconciler: reconcilerId }, {});
    // Shell builtins only (no cat, no rm): this runs last, so every process it starts delays the apply.
    const skipIfReconciled = (run: string) =>
      `{ read -r ran < "$${HANDLER_ENV.reconciled}"; } 2>/dev/null; ` +
      `if [ "$ran" = "$${HANDLER_ENV.reconciler}" ]; then : > "$${HANDLER_ENV.reconciled}"; ` +
      `else unset ${HANDLER_ENV.reconciler}; ${run}; fi`;
    const plannedRun = `\${${address(this.reconciler)}.${this.triggersAttribute}.unfinished_run}`;
    this.rerun.addOverride('provisioner', [this.handlerRun('reconcile', reconcileEnv(reconcilerId, plannedRun), { wrap: skipIfReconciled })]);
    // Prepared by whichever comes first: App.synth's preparing resolve (which may add constructs)
    // reaches the provisioner command; Testing.synth runs aspects. The aspects' walk of every
    // construct also checks the other resources' Terraform names.
    Aspects.of(stack).add({ visit: (node) => (node === stack ? void this.prepare() : this.checkName(node)) });
  }

  /** The stack's connections' props by id, to validate a resource's props with its connection in place. */
  readonly connectionProps = new Map<string, JsonObject>();

  /**
   * Declares the lifecycle resource of a service connection (its props, for Terraform's plan) and
   * returns its Terraform address. `path`: the connection's construct path.
   */
  registerConnection(logicalId: string, props: JsonObject, path: string): string {
    const name = this.terraformName(logicalId);
    const triggers = { spec: JSON.stringify(canonicalize({ connection: logicalId, props: escapeTemplates(props) })) };
    this.connections.push({ id: logicalId, props, name, path, triggers });
    this.connectionProps.set(logicalId, props);
    return this.addressOf(name);
  }

  /**
   * Declares the lifecycle resource of one managed resource (its spec, for Terraform's plan) and
   * returns its Terraform address. `terraformValues`: its props hold values only Terraform knows,
   * which the manifest gets by variable. Otherwise the manifest's text of the spec is the lifecycle
   * resource's, made once. `path`: the resource's construct path.
   */
  register(spec: ResourceSpec, type: Pick<ResourceType, 'module' | 'secretAttributes'>, terraformValues: boolean, path: string): string {
    if (type.secretAttributes?.length) this.secretOutputs = true;
    const json = terraformValues ? undefined : specJson(spec);
    // Literal `${` and `%{` must be escaped for Terraform (rare: the text is searched, not walked).
    const plain = json !== undefined && !json.includes('${') && !json.includes('%{');
    const triggers = plain ? { spec: json } : encodeTriggers({ ...spec, props: escapeTemplates(spec.props) as JsonObject });
    const name = this.terraformName(spec.id);
    this.entries.push({ spec, typeModule: type.module, name, path, triggers, json });
    return this.addressOf(name);
  }

  private resource(scope: Construct, id: string, name: string, triggers: JsonObject | IResolvable, meta: TerraformMetaArguments): TerraformResource {
    const resource =
      this.kind === LifecycleResourceKind.TERRAFORM_DATA
        ? new TerraformData(scope, id, triggers, meta)
        : new NullResource(scope, id, { triggers: triggers as { [key: string]: string }, ...meta });
    resource.overrideLogicalId(name);
    return resource;
  }

  /** The Terraform address of the lifecycle resource named `name`. */
  private addressOf(name: string): string {
    return `${this.kind}.${name}`;
  }

  private get triggersAttribute(): string {
    return this.kind === LifecycleResourceKind.TERRAFORM_DATA ? 'triggers_replace' : 'triggers';
  }

  /**
   * A quiet handler provisioner; `exec` makes node Terraform's child, so it notices when Terraform
   * dies. Node's flags ({@link HANDLER_NODE_FLAGS}) save CPU taken from Terraform on a small runner.
   */
  private handlerRun(
    command: HandlerCommand,
    environment: Record<string, string> | IResolvable,
    options: { when?: 'destroy'; wrap?: (run: string) => string } = {},
  ): { 'local-exec': Record<string, unknown> } {
    const { wrap = (run: string) => run, when } = options;
    return {
      'local-exec': {
        // Lazy.anyValue, not stringValue: a string token would stay in cdktf's global token map, and the runtime with it.
        command: Lazy.anyValue({ produce: () => wrap(`exec node ${HANDLER_NODE_FLAGS} ${this.prepare().handler.path}/${HANDLER_FILE} ${command}`) }),
        quiet: true,
        ...(when ? { when } : {}),
        environment,
      },
    };
  }

  /** Readable Terraform names (`terraform_data.cdf_adf-sink`), unique within the stack. */
  private terraformName(logicalId: string): string {
    let name = logicalId.replace(/[^A-Za-z0-9_-]/g, '_');
    if (!/^[A-Za-z_]/.test(name)) name = `_${name}`;
    if (this.names.has(name)) name = `${name}_${createHash('sha256').update(logicalId).digest('hex').slice(0, 8)}`;
    this.names.set(name, logicalId);
    return name;
  }

  /** Builds the assets and completes the wiring, once, when every resource exists. */
  private prepare(): Prepared {
    if (this.prepared) return this.prepared;
    // Lifecycle resources whose specs hold values of other Terraform resources.
    const referencing = new Set<Lifecycle>();
    const withValues = (lifecycle: Lifecycle, props: JsonObject): JsonObject => {
      const before = this.terraformValues.size;
      const out = this.withTerraformValues(props);
      if (this.terraformValues.size > before) referencing.add(lifecycle);
      return out;
    };
    // The manifest's text is put together from each spec's (canonical, keys in order), so specs
    // are not walked and serialized a second time.
    const connections = this.connections.map((c) => JSON.stringify(canonicalize({ id: c.id, props: withValues(c, c.props) })));
    const resources = this.entries.map((e) => e.json ?? specJson({ ...e.spec, props: withValues(e, e.spec.props) }));
    const sealing = this.secretOutputs ? ',\n"secretOutputs":true' : '';
    const text = `{"connections":[${connections.join(',\n')}],\n"resources":[${resources.join(',\n')}]${sealing},\n"stack":${JSON.stringify(this.stackName)}}\n`;
    const digest = createHash('sha256').update(text).digest('hex');
    const file = path.join(synthWorkDirectory(), digest.slice(0, 16), 'pgstacks-manifest.json');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    const handler = handlerBundle([...this.extraTypes, ...this.entries.map((e) => ({ name: e.spec.type, module: e.typeModule }))]);
    this.prepared = {
      // Hashes given: cdktf would otherwise read and hash both files on every synth.
      handler: new TerraformAsset(this, 'handler', { path: handler.directory, assetHash: handler.hash, type: AssetType.DIRECTORY }),
      manifest: new TerraformAsset(this, 'manifest', { path: file, assetHash: digest.slice(0, 32).toUpperCase(), type: AssetType.FILE }),
      manifestHash: `sha256:${digest}`,
    };
    const lifecycles: Lifecycle[] = [...this.connections, ...this.entries];
    const lifecycleAddress = (l: Lifecycle) => this.addressOf(l.name);
    // The teardown goes after the lifecycle resources that hold other resources' values (so on
    // destroy it runs before what they reference is destroyed), and the reconciler after the
    // teardown. The other lifecycle resources wait for the start resource, which Terraform
    // creates with the reconciler: the engine run then overlaps Terraform's recording of them,
    // rather than starting after the last. The rerun comes after all.
    this.teardown.dependsOn = [...referencing].map(lifecycleAddress);
    this.reconciler.dependsOn = [address(this.teardown)];
    if (lifecycles.length) this.rerun.addOverride('lifecycle.replace_triggered_by', lifecycles.map(lifecycleAddress));
    // Written into the stack's JSON, not made cdktf resources: cdktf's synthesis of a resource (a
    // construct, its meta-arguments, three resolving walks) cost ~55 ms per 1,000 (bench/synth.bench.ts).
    const stack = TerraformStack.of(this);
    const afterStart = [address(this.start)];
    for (const l of lifecycles) {
      stack.addOverride(`resource.${this.kind}.${l.name}`, {
        '//': { metadata: { path: l.path, uniqueId: l.name } },
        [this.triggersAttribute]: l.triggers,
        ...(referencing.has(l) ? {} : { depends_on: afterStart }),
      });
    }
    if (this.kind === LifecycleResourceKind.NULL_RESOURCE && !stack.node.findAll().some((c) => c instanceof NullProvider)) {
      new NullProvider(this, 'null');
    }
    return this.prepared;
  }

  /** The manifest form of props: each Terraform-only value becomes a `$tf` marker for the engine. */
  private withTerraformValues(props: JsonObject): JsonObject {
    const walk = (value: unknown): Json => {
      if (!isMarkerValue(value) && Token.isUnresolved(value)) {
        const name = `PGSTACKS_TF_${this.terraformValues.size}`;
        this.terraformValues.set(name, value);
        return { $tf: name };
      }
      if (Array.isArray(value)) return value.map(walk);
      if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
      return value as Json;
    };
    return walk(props) as JsonObject;
  }

  /** Another resource with the Terraform name of one of ours would be merged into it, silently. */
  private checkName(node: IConstruct): void {
    if (!(node instanceof TerraformResource) || node.terraformResourceType !== this.kind) return;
    if (node.node.scope === this) return;
    const ours = this.names.get(node.friendlyUniqueId);
    if (ours) {
      throw new Error(
        `${node.node.path}: its Terraform name ${this.kind}.${node.friendlyUniqueId} is also the name of the pgstacks resource ` +
          `'${ours}'; give one of them another id`,
      );
    }
  }
}

const address = (resource: TerraformResource) => `${resource.terraformResourceType}.${resource.friendlyUniqueId}`;

/** Literal strings stay literal: Terraform would evaluate `${…}` and `%{…}` in them. */
function escapeTemplates(value: Json): Json {
  if (typeof value === 'string') return Token.isUnresolved(value) ? value : value.replace(/([$%])\{/g, (_, sign: string) => `${sign}${sign}{`);
  if (Array.isArray(value)) return value.map(escapeTemplates);
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, escapeTemplates(v as Json)]));
  return value;
}

const toPosix = (p: string) => p.split(path.sep).join('/');

/** The folder of cdktf.json, where Terraform's local state also lives. */
function projectDirectory(scope: IConstruct): string {
  const fromContext = scope.node.tryGetContext('cdktfJsonPath') as string | undefined;
  if (fromContext) return path.dirname(fromContext);
  for (let dir = process.cwd(); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'cdktf.json'))) return dir;
    if (path.dirname(dir) === dir) return process.cwd();
  }
}

/**
 * Per-stack wiring: the lifecycle resources, the handler asset and the prune resource.
 */
import { NullProvider } from '@cdktf/provider-null/lib/provider';
import { Resource as NullResource } from '@cdktf/provider-null/lib/resource';
import {
  anyToHclTerraform,
  anyToTerraform,
  AssetType,
  Aspects,
  hashMapper,
  hashMapperHcl,
  Lazy,
  TerraformAsset,
  TerraformResource,
  TerraformStack,
  type IResolvable,
  type TerraformMetaArguments,
} from 'cdktf';
import { ValidateTerraformVersion } from 'cdktf/lib/validations/validate-terraform-version';
import { Construct, type IConstruct } from 'constructs';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bundleHandler } from '../../src/runtime/bundle';
import { PRUNE_TYPE, encodeTriggers, type JsonObject, type PruneSpec, type ResourceSpec } from '../../src/runtime/spec';
import { DEFAULT_STATE_DIR_VARIABLE } from '../../src/runtime/state';

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
   * The local state store directory (relative paths are relative to the folder of cdktf.json).
   * The handler honours PGSTACKS_STATE_DIR over it.
   * @default '.pgstacks/state' next to cdktf.json, like Terraform's own local state
   */
  readonly stateDirectory?: string;
}

/** Stack-wide settings for pgstacks resources. */
export class Pgstacks {
  /**
   * Configures pgstacks for one stack. Call it before creating the stack's first pgstacks resource.
   */
  static configure(stack: TerraformStack, options: PgstacksOptions): void {
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
const PRUNE_NAME = 'pgstacks_prune';

interface Entry {
  readonly logicalId: string;
  readonly aliases: readonly string[];
  readonly typeModule: string;
  readonly lifecycle: TerraformResource;
}

/** @internal The per-stack singleton behind every pgstacks resource. */
export class PgstacksRuntime extends Construct {
  static of(scope: IConstruct): PgstacksRuntime {
    const stack = TerraformStack.of(scope);
    return (stack.node.tryFindChild(RUNTIME_ID) as PgstacksRuntime | undefined) ?? new PgstacksRuntime(stack, {});
  }

  readonly stackName: string;
  readonly kind: LifecycleResourceKind;
  readonly stateDirectory: string;
  private readonly entries: Entry[] = [];
  private readonly names = new Map<string, string>([[PRUNE_NAME, '(prune)']]);
  private readonly prune: TerraformResource;
  private asset?: TerraformAsset;

  constructor(stack: TerraformStack, options: PgstacksOptions) {
    super(stack, RUNTIME_ID);
    this.stackName = stack.node.id;
    this.kind = options.lifecycleResource ?? LifecycleResourceKind.TERRAFORM_DATA;
    this.stateDirectory = path.resolve(projectDirectory(this), options.stateDirectory ?? path.join('.pgstacks', 'state'));
    if (this.kind === LifecycleResourceKind.TERRAFORM_DATA) {
      this.node.addValidation(new ValidateTerraformVersion('>=1.4', 'pgstacks resources synthesize terraform_data, which needs Terraform >= 1.4.'));
    }
    const manifest = Lazy.anyValue({ produce: () => this.triggers(this.pruneSpec()) });
    this.prune = this.lifecycleResource(this, 'prune', PRUNE_NAME, manifest, { destroy: false });
    // Prepared by whichever comes first: App.synth's preparing resolve (which may add constructs)
    // reaches the provisioner command; Testing.synth runs aspects.
    Aspects.of(stack).add({ visit: (node) => node === stack && this.prepare() });
  }

  /** Synthesizes the lifecycle resource of one managed resource. */
  register(owner: Construct, spec: ResourceSpec, typeModule: string, references: readonly TerraformResource[]): TerraformResource {
    const lifecycle = this.lifecycleResource(owner, 'Lifecycle', this.terraformName(spec.id), this.triggers(spec), {
      destroy: true,
      references,
    });
    this.entries.push({ logicalId: spec.id, aliases: spec.aliases, typeModule, lifecycle });
    return lifecycle;
  }

  private triggers(spec: ResourceSpec | PruneSpec): JsonObject {
    return encodeTriggers(spec, this.kind === LifecycleResourceKind.NULL_RESOURCE ? 'strings' : 'object');
  }

  private pruneSpec(): PruneSpec {
    return {
      type: PRUNE_TYPE,
      stack: this.stackName,
      resources: this.entries.map((e) => e.logicalId).sort(),
      aliases: this.entries.flatMap((e) => e.aliases).sort(),
    };
  }

  private lifecycleResource(
    scope: Construct,
    id: string,
    name: string,
    triggers: JsonObject | IResolvable,
    options: { destroy: boolean; references?: readonly TerraformResource[] },
  ): TerraformResource {
    // Plain addresses: cdktf renders dependables in replace_triggered_by as "${...}", which Terraform rejects.
    const references = (options.references ?? []).map(address);
    const meta = {
      // Replacing a referenced resource re-runs this one's apply, which re-resolves the reference.
      lifecycle: options.destroy ? { createBeforeDestroy: true, ...(references.length ? { replaceTriggeredBy: references } : {}) } : undefined,
    };
    const resource =
      this.kind === LifecycleResourceKind.TERRAFORM_DATA
        ? new TerraformData(scope, id, triggers, meta)
        : new NullResource(scope, id, { triggers: triggers as { [key: string]: string }, ...meta });
    resource.overrideLogicalId(name);
    if (references.length) resource.dependsOn = references;
    const selfSpec = this.kind === LifecycleResourceKind.TERRAFORM_DATA ? '${jsonencode(self.triggers_replace)}' : '${jsonencode(self.triggers)}';
    const provisioner = (command: string, when?: 'destroy') => ({
      'local-exec': {
        command: Lazy.stringValue({ produce: () => this.command(command) }),
        quiet: true,
        ...(when ? { when } : {}),
        environment: { PGSTACKS_SPEC: selfSpec, [DEFAULT_STATE_DIR_VARIABLE]: this.stateDirectory },
      },
    });
    resource.addOverride(
      'provisioner',
      options.destroy ? [provisioner('apply'), provisioner('delete', 'destroy')] : [provisioner('prune')],
    );
    return resource;
  }

  private command(command: string): string {
    return `node ${this.prepare().path} ${command}`;
  }

  /** Readable Terraform names (`terraform_data.cdf_adf-sink`), unique within the stack. */
  private terraformName(logicalId: string): string {
    let name = logicalId.replace(/[^A-Za-z0-9_-]/g, '_');
    if (!/^[A-Za-z_]/.test(name)) name = `_${name}`;
    if (this.names.has(name)) name = `${name}_${createHash('sha256').update(logicalId).digest('hex').slice(0, 8)}`;
    this.names.set(name, logicalId);
    return name;
  }

  /** Builds the handler asset and completes the wiring, once, when every resource exists. */
  private prepare(): TerraformAsset {
    if (this.asset) return this.asset;
    this.asset = new TerraformAsset(this, 'handler', { path: bundleHandler(this.entries.map((e) => e.typeModule)), type: AssetType.FILE });
    this.prune.dependsOn = this.entries.map((e) => address(e.lifecycle));
    const stack = TerraformStack.of(this);
    if (this.kind === LifecycleResourceKind.NULL_RESOURCE && !stack.node.findAll().some((c) => c instanceof NullProvider)) {
      new NullProvider(this, 'null');
    }
    this.checkNameClashes(stack);
    return this.asset;
  }

  private checkNameClashes(stack: TerraformStack): void {
    const ours = new Set(this.entries.map((e) => e.lifecycle).concat(this.prune));
    for (const other of stack.node.findAll()) {
      if (!(other instanceof TerraformResource) || ours.has(other)) continue;
      if (other.terraformResourceType === this.kind && this.names.has(other.friendlyUniqueId)) {
        throw new Error(
          `${other.node.path}: its Terraform name ${this.kind}.${other.friendlyUniqueId} is also the name of the pgstacks resource ` +
            `'${this.names.get(other.friendlyUniqueId)}'; give one of them another id`,
        );
      }
    }
  }
}

const address = (resource: TerraformResource) => `${resource.terraformResourceType}.${resource.friendlyUniqueId}`;

/** The folder of cdktf.json, where Terraform's local state also lives. */
function projectDirectory(scope: IConstruct): string {
  const fromContext = scope.node.tryGetContext('cdktfJsonPath') as string | undefined;
  if (fromContext) return path.dirname(fromContext);
  for (let dir = process.cwd(); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'cdktf.json'))) return dir;
    if (path.dirname(dir) === dir) return process.cwd();
  }
}

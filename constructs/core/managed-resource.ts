import { TerraformStack, Token, type ITerraformDependable } from 'cdktf';
import { Construct } from 'constructs';
import type { Outputs, ResourceType } from '../../src/runtime/resource-type';
import { expandConnections, type JsonObject, type ResourceSpec } from '../../src/runtime/spec';
import { PgstacksRuntime } from './pgstacks';
import { AttributeRef, stackNumber, toSpecProps, validateProps } from './props';
import type { Duration } from './duration';
import { RemovalPolicy } from './removal-policy';

/** Options every pgstacks resource accepts. */
export interface ManagedResourceOptions {
  /**
   * What happens to the remote object when the construct is removed or the stack destroyed.
   * @default - the resource type's default: RETAIN for stateful resources, DESTROY otherwise
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Let a change of an immutable prop replace a RETAIN resource. The old remote object is
   * deleted, so data it held is lost.
   * @default false
   */
  readonly allowReplacement?: boolean;
  /**
   * Logical ids this resource had before a rename or a move to another parent construct
   * (paths below the stack, such as `old-parent/old-id`). The record found under one of them
   * is moved to the new id, so a refactor neither deletes nor recreates the remote object.
   * @default - none
   */
  readonly aliases?: string[];
  /**
   * How long each lifecycle call of this resource may take at deploy, waits for the service's
   * long-running operations included; the run fails it at the deadline, naming the operation.
   * @default Duration.minutes(30)
   */
  readonly timeout?: Duration;
}

/**
 * Base class of every pgstacks resource: validates props with the resource type's schema and
 * synthesizes one lifecycle resource whose provisioners run the handler. Subclasses map their
 * props to the type's props and expose attributes with {@link ManagedResource.getAttribute}.
 */
export abstract class ManagedResource<O extends Outputs = Outputs> extends Construct implements ITerraformDependable {
  /** The resource's id in the state store: its construct path below the stack. */
  readonly logicalId: string;
  /** The resource type's name, e.g. `cognite:gateway-user`. */
  readonly typeName: string;
  readonly removalPolicy: RemovalPolicy;
  /**
   * The Terraform address of the `terraform_data` (or `null_resource`) that carries its spec, e.g.
   * `terraform_data.cdf_adf-sink`: `terraform apply -replace=<address>` applies it again.
   */
  readonly lifecycleAddress: string;
  private readonly resourceType: ResourceType<any, O>;

  protected constructor(scope: Construct, id: string, type: ResourceType<any, O>, props: Record<string, unknown>, options: ManagedResourceOptions = {}) {
    super(scope, id);
    const stack = TerraformStack.of(this);
    this.resourceType = type;
    this.typeName = type.name;
    this.logicalId = this.node.path.slice(stack.node.path.length + 1);
    this.removalPolicy = options.removalPolicy ?? (type.defaultRemovalPolicy as RemovalPolicy);

    const { props: specProps, references, terraformValues } = toSpecProps(props);
    // With its connection in place, a construct's props are judged whole (and validated faster:
    // a connection marker would be one more deferred issue per field of the connection).
    const runtime = PgstacksRuntime.of(this);
    validateProps(type.schema, expandConnections(specProps, runtime.connectionProps) as JsonObject, this.node.path, this.constructor.name);
    const aliases = [...new Set(options.aliases ?? [])];
    for (const alias of aliases) {
      if (!alias || alias === this.logicalId) {
        throw new Error(`${this.node.path}: aliases = ${JSON.stringify(options.aliases)}: an alias must be a previous logical id, not empty or the current one`);
      }
    }
    const elsewhere = references.find((r) => r.stack !== stackNumber(stack));
    if (elsewhere) {
      throw new Error(`${this.node.path}: references ${elsewhere.targetPath}, which is in another stack; pgstacks references work within one stack`);
    }
    const spec: ResourceSpec = {
      type: type.name,
      stack: stack.node.id,
      id: this.logicalId,
      props: specProps,
      removalPolicy: this.removalPolicy,
      allowReplacement: options.allowReplacement ?? false,
      aliases,
      ...(options.timeout && { timeoutSeconds: Math.max(1, options.timeout.toSeconds()) }),
    };
    this.lifecycleAddress = runtime.register(spec, type, terraformValues, this.node.path);
  }

  /**
   * For `dependsOn`: the last of the stack's pgstacks resources, so a resource that depends on
   * this one waits until the engine run that applies it has finished.
   */
  get fqn(): string {
    return PgstacksRuntime.of(this).rerun.fqn;
  }

  /**
   * A deploy-time output of this resource, as a token to pass into another pgstacks resource's
   * props (alone or inside a string). Fails at synth if the type has no such attribute.
   */
  getAttribute(name: string): string {
    return this.reference(name).toString();
  }

  /** A numeric deploy-time output (a port, an id), as a number token. */
  protected getNumberAttribute(name: Extract<keyof O, string>): number {
    return Token.asNumber(this.reference(name));
  }

  /** One reference per attribute: a thousand tables passed `user.username` share its token. */
  private readonly references = new Map<string, AttributeRef>();

  private reference(name: string): AttributeRef {
    let ref = this.references.get(name);
    if (ref) return ref;
    const known = [...this.resourceType.attributes, ...(this.resourceType.secretAttributes ?? [])];
    if (!known.includes(name)) {
      throw new Error(`${this.node.path}: ${this.typeName} has no attribute '${name}' (it has: ${known.join(', ')})`);
    }
    ref = new AttributeRef(this, name);
    this.references.set(name, ref);
    return ref;
  }
}

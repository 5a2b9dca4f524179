import { TerraformStack } from 'cdktf';
import { Construct, type IConstruct } from 'constructs';
import type { ConnectionMarker } from '../../src/runtime/spec';
import { PgstacksRuntime } from './pgstacks';
import { toSpecProps } from './props';

/**
 * Base class of a service connection: where and how to reach a service (a CDF project and the
 * credentials pgstacks deploys with). It makes nothing remotely; it is declared once, and each
 * resource of the service refers to it, so rotating the deploy credentials is one change in
 * Terraform's plan, not one per resource.
 */
export abstract class ServiceConnection extends Construct {
  /** Its id in the stack manifest: its construct path below the stack. */
  readonly logicalId: string;
  /** The Terraform address of the resource that carries its props, e.g. `terraform_data.cdf`. */
  readonly lifecycleAddress: string;

  protected constructor(scope: Construct, id: string, props: Record<string, unknown>) {
    super(scope, id);
    const stack = TerraformStack.of(this);
    this.logicalId = this.node.path.slice(stack.node.path.length + 1);
    this.lifecycleAddress = PgstacksRuntime.of(this).registerConnection(this.logicalId, toSpecProps(props).props, this.node.path);
  }

  /** @internal What a resource's props hold in the connection's place (checked to be in the same stack). */
  referenceFrom(consumer: IConstruct): ConnectionMarker {
    if (TerraformStack.of(consumer) !== TerraformStack.of(this)) {
      throw new Error(`${consumer.node.path}: uses ${this.node.path}, which is in another stack; declare the connection in each stack that uses it`);
    }
    return { $connection: this.logicalId };
  }
}

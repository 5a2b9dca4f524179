import type { SecretMarker } from '../../src/runtime/spec';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Brand checked instead of instanceof, which fails across two copies of the library. */
const SECRET = Symbol.for('pgstacks.Secret');

/**
 * A secret value that pgstacks reads at deploy time. Only its source (an environment variable's
 * name) is synthesized; the value never reaches `cdk.tf.json`, Terraform state or plan output.
 */
export class Secret {
  /**
   * The value of environment variable `variableName` in the shell that runs `cdktf deploy` /
   * `terraform apply`. A missing variable fails the deploy with a message naming it.
   */
  static fromEnv(variableName: string): Secret {
    if (!ENV_NAME.test(variableName)) {
      throw new Error(
        `Secret.fromEnv('${variableName}'): not a valid environment variable name; use letters, digits and _, not starting with a digit`,
      );
    }
    return new Secret(variableName);
  }

  /** @internal */
  static isSecret(value: unknown): value is Secret {
    return typeof value === 'object' && value !== null && (value as { [SECRET]?: true })[SECRET] === true;
  }

  readonly [SECRET] = true;

  private constructor(
    /** The environment variable the value is read from. */
    readonly variableName: string,
  ) {}

  /** @internal The spec form: the source, never the value. */
  toMarker(): SecretMarker {
    return { $secret: { fromEnv: this.variableName } };
  }

  /** A secret has no value at synth, so it cannot be put into a string. */
  toString(): string {
    throw new Error(
      `Secret.fromEnv('${this.variableName}') was used inside a string; pass the Secret itself to a prop that accepts a Secret`,
    );
  }
}

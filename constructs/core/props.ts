/**
 * Synth-time handling of props: turning construct props into the spec's JSON (secrets and
 * references become markers) and validating them with the resource type's schema.
 */
import { TerraformStack, Token, Tokenization, type IResolvable, type IResolveContext } from 'cdktf';
import type { IConstruct } from 'constructs';
import type { ZodType } from 'zod';
import type { $ZodIssue } from 'zod/v4/core';
import { isMarkerValue, isObject, type Json, type JsonObject, type RefMarker, type SecretMarker } from '../../src/runtime/spec';
import { Secret } from './secret';

/** What an attribute reference points at: a pgstacks managed resource. */
export interface ReferenceTarget extends IConstruct {
  readonly logicalId: string;
}

const ATTRIBUTE_REF = Symbol.for('pgstacks.AttributeRef');

const stackNumbers = new WeakMap<TerraformStack, number>();
let stacksNumbered = 0;
/** A number that tells a stack from every other stack of the process. */
export function stackNumber(stack: TerraformStack): number {
  let n = stackNumbers.get(stack);
  if (n === undefined) stackNumbers.set(stack, (n = ++stacksNumbered));
  return n;
}

/**
 * The token behind a resource attribute such as `endpoint.host`: known only at deploy time, it
 * becomes a `$ref` marker in the spec of the resource it is passed to.
 */
export class AttributeRef implements IResolvable {
  readonly creationStack: string[] = [];
  readonly [ATTRIBUTE_REF] = true;

  static isAttributeRef(value: unknown): value is AttributeRef {
    return typeof value === 'object' && value !== null && (value as { [ATTRIBUTE_REF]?: true })[ATTRIBUTE_REF] === true;
  }

  private readonly resource: string;
  /** The construct path of the resource. */
  readonly targetPath: string;
  /**
   * The stack of the resource, by a number: cdktf's token map, global to the process, keeps every
   * token for good, so a token that held its resource would keep that resource's whole construct
   * tree alive (each synth's, in a process that synthesizes many apps, such as a test run).
   */
  readonly stack: number;

  constructor(
    target: ReferenceTarget,
    readonly attribute: string,
  ) {
    this.resource = target.logicalId;
    this.targetPath = target.node.path;
    this.stack = stackNumber(TerraformStack.of(target));
  }

  toMarker(): RefMarker {
    return { $ref: { attribute: this.attribute, resource: this.resource } }; // keys in canonical order
  }

  resolve(_context: IResolveContext): never {
    throw new Error(
      `${this.targetPath}.${this.attribute} is known only when pgstacks deploys it, so it can be passed ` +
        `to pgstacks resources but not to other Terraform resources or outputs (use 'pgstacks outputs' in pipelines)`,
    );
  }

  toString(): string {
    return Token.asString(this);
  }
}

/** The result of converting props: the spec JSON and the references found in it. */
export interface SpecProps {
  readonly props: JsonObject;
  readonly references: readonly AttributeRef[];
  /** Whether the props keep values only Terraform knows (another resource's attribute, a variable). */
  readonly terraformValues: boolean;
}

/** Converts construct props to spec JSON. Other Terraform tokens are kept for cdktf to resolve. */
export function toSpecProps(props: Record<string, unknown>): SpecProps {
  const references: AttributeRef[] = [];
  let terraformValues = false;
  const kept = <T>(value: T): T => {
    terraformValues = true;
    return value;
  };
  const convert = (value: unknown): Json | undefined => {
    if (value === undefined) return undefined;
    if (Secret.isSecret(value)) return value.toMarker() as unknown as Json;
    if (AttributeRef.isAttributeRef(value)) {
      references.push(value);
      return value.toMarker() as unknown as Json;
    }
    if (typeof value === 'string') {
      if (!Token.isUnresolved(value)) return value;
      const converted = convertTokenString(value, references);
      return typeof converted === 'string' || (isObject(converted) && '$concat' in converted && (converted.$concat as unknown[]).some((p) => typeof p === 'string' && Token.isUnresolved(p))) ? kept(converted) : converted;
    }
    if (typeof value === 'number') {
      const token = Token.isUnresolved(value) ? Tokenization.reverseNumber(value) : undefined;
      if (token && AttributeRef.isAttributeRef(token)) return convert(token);
      return token ? kept(value) : value;
    }
    if (Array.isArray(value)) {
      if (Token.isUnresolved(value)) return kept(value as Json);
      return value.map((v) => convert(v) ?? null);
    }
    if (isObject(value)) {
      if (Token.isUnresolved(value)) return kept(value as unknown as Json); // a resolvable, or a map token
      // Keys sorted: the spec is canonical as made, and canonicalize need not copy it.
      const out: JsonObject = {};
      for (const key of Object.keys(value).sort()) {
        const converted = convert(value[key]);
        if (converted !== undefined) out[key] = converted;
      }
      return out;
    }
    return value as Json;
  };
  return { props: (convert(props) ?? {}) as JsonObject, references, terraformValues };
}

type Fragment =
  | { type: 'literal'; lit: string }
  | { type: 'token'; token: IResolvable }
  | { type: 'intrinsic'; value: unknown }
  | { type: 'escape'; kind: 'open' | 'close' };

/** A string holding tokens: one reference alone becomes `$ref`; a mix becomes `$concat`. */
function convertTokenString(value: string, references: AttributeRef[]): Json {
  // cdktf 0.21 is the final release, so its private fragment list is a stable shape to read.
  const fragments = (Tokenization.reverseString(value) as unknown as { fragments: Fragment[] }).fragments;
  if (!fragments.some((f) => f.type === 'token' && AttributeRef.isAttributeRef(f.token))) return value;
  const parts: Array<string | RefMarker | SecretMarker> = [];
  for (const fragment of fragments) {
    if (fragment.type === 'token' && AttributeRef.isAttributeRef(fragment.token)) {
      references.push(fragment.token);
      parts.push(fragment.token.toMarker());
    } else {
      const text =
        fragment.type === 'literal' ? fragment.lit
        : fragment.type === 'token' ? Token.asString(fragment.token)
        : fragment.type === 'escape' ? (fragment.kind === 'open' ? '${' : '}')
        : String(fragment.value);
      if (typeof parts[parts.length - 1] === 'string') parts[parts.length - 1] += text;
      else parts.push(text);
    }
  }
  return parts.length === 1 ? (parts[0] as unknown as Json) : ({ $concat: parts } as unknown as Json);
}

/** A props error found at synth: names the construct, the field, the value and what is allowed. */
export class PropsValidationError extends Error {
  override readonly name = 'PropsValidationError';
}

/**
 * Validates spec props with a resource type's schema. Values known only later (Terraform tokens,
 * secrets, references) are not judged here; the handler validates them again after resolving them.
 */
export function validateProps(schema: ZodType, props: JsonObject, constructPath: string, constructName: string): void {
  // The Standard Schema entry point: its issues come without a ZodError (an Error, with a stack)
  // per construct, which most constructs would build only to find their issues deferred.
  const result = schema['~standard'].validate(props);
  if (result instanceof Promise) throw new Error(`${constructPath}: the resource type's schema is asynchronous; pgstacks validates props synchronously at synth`);
  if (!result.issues) return;
  const problems = (result.issues as readonly $ZodIssue[])
    .filter((issue) => !isDeferred(props, issue.path))
    .map((issue) => {
      const field = issue.path.join('.');
      if (issue.code === 'unrecognized_keys') {
        const where = field ? ` in ${field}` : '';
        return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}${where}: remove ${issue.keys.length > 1 ? 'them' : 'it'}`;
      }
      const value = valueAt(props, issue.path);
      return `${field || '(props)'} = ${showValue(value)}: ${issue.message}`;
    });
  if (problems.length === 0) return;
  throw new PropsValidationError(
    `Invalid props for ${constructName} at '${constructPath}':\n${problems.map((p) => `  - ${p}`).join('\n')}`,
  );
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const key of path) current = isObject(current) || Array.isArray(current) ? (current as Record<PropertyKey, unknown>)[key] : undefined;
  return current;
}

/** True if the issue is about a value (or inside one) that is only known at deploy time. */
function isDeferred(props: JsonObject, path: readonly PropertyKey[]): boolean {
  let current: unknown = props;
  for (let i = 0; ; i++) {
    if (isMarkerValue(current) || Token.isUnresolved(current)) return true;
    if (i === path.length) return false;
    current = isObject(current) || Array.isArray(current) ? (current as Record<PropertyKey, unknown>)[path[i]] : undefined;
  }
}

function showValue(value: unknown): string {
  if (value === undefined) return '(missing)';
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

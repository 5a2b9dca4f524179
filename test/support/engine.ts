/** Drives the lifecycle engine directly (no Terraform), for fast tests of its decisions. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LifecycleEngine, type EngineOptions, type RunHooks } from '../../src/runtime/engine';
import { Logger } from '../../src/runtime/log';
import type { StackPlan } from '../../src/runtime/plan';
import type { ResourceSpec } from '../../src/runtime/spec';
import { LocalDirectoryStore, openSecrets, STATE_KEY_VARIABLE } from '../../src/runtime/state';
import { TEST_STATE_KEY } from './env';
import './widget-type';

export class EngineHarness {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-engine-'));
  readonly store = new LocalDirectoryStore(path.join(this.dir, 'state'));
  readonly lines: string[] = [];
  /** The handler's environment, on top of the test state key. */
  env: NodeJS.ProcessEnv = {};
  parallelism?: number;
  /** More engine options (deployment, plain-text secrets). */
  options: Partial<EngineOptions> = {};

  /** A record's secret outputs, opened with the environment's key. */
  async secrets(id: string): Promise<Record<string, string>> {
    const record = await this.record(id);
    return record?.secretOutputs ? openSecrets(record.secretOutputs, this.env[STATE_KEY_VARIABLE] ?? TEST_STATE_KEY) : {};
  }

  engine(): LifecycleEngine {
    const env = { [STATE_KEY_VARIABLE]: TEST_STATE_KEY, ...this.env };
    return new LifecycleEngine({ store: this.store, env, logger: new Logger((l) => this.lines.push(l)), version: 'test', parallelism: this.parallelism, ...this.options });
  }

  /** What `apply` and `remove` have declared so far, by logical id. */
  readonly declared = new Map<string, ResourceSpec>();

  /** Declares `spec` (replacing one with its id) and runs the engine over everything declared. */
  apply(spec: ResourceSpec): Promise<StackPlan> {
    this.declared.set(spec.id, spec);
    return this.reconcile([...this.declared.values()]);
  }

  /** Stops declaring the given ids and runs the engine. */
  remove(...ids: string[]): Promise<StackPlan> {
    for (const id of ids) this.declared.delete(id);
    return this.reconcile([...this.declared.values()]);
  }

  /** One engine run over a stack that declares exactly `specs`. */
  reconcile(specs: ResourceSpec[], hooks?: RunHooks): Promise<StackPlan> {
    return this.engine().reconcile({ stack: 'test', resources: specs }, hooks);
  }

  plan(specs: ResourceSpec[]): Promise<StackPlan> {
    return this.engine().plan({ stack: 'test', resources: specs });
  }

  destroy(): Promise<void> {
    return this.engine().destroyStack('test');
  }

  record(id: string) {
    return this.store.get('test', id);
  }

  /** The lines of the last run, for messages. */
  get log(): string {
    return this.lines.join('\n');
  }

  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export function widgetSpec(id: string, props: Record<string, unknown>, options: Partial<ResourceSpec> = {}): ResourceSpec {
  return {
    type: 'test:widget',
    stack: 'test',
    id,
    props: props as ResourceSpec['props'],
    removalPolicy: 'destroy',
    allowReplacement: false,
    aliases: [],
    ...options,
  };
}

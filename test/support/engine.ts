/** Drives the lifecycle engine directly (no Terraform), for fast tests of its decisions. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LifecycleEngine } from '../../src/runtime/engine';
import { Logger } from '../../src/runtime/log';
import type { PruneSpec, ResourceSpec } from '../../src/runtime/spec';
import { LocalDirectoryStore } from '../../src/runtime/state';
import './widget-type';

export class EngineHarness {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-engine-'));
  readonly store = new LocalDirectoryStore(path.join(this.dir, 'state'));
  readonly lines: string[] = [];
  env: NodeJS.ProcessEnv = {};

  engine(): LifecycleEngine {
    return new LifecycleEngine({ store: this.store, env: this.env, logger: new Logger((l) => this.lines.push(l)), version: 'test' });
  }

  apply(spec: ResourceSpec): Promise<void> {
    return this.engine().apply(spec);
  }

  destroy(spec: ResourceSpec): Promise<void> {
    return this.engine().destroy(spec);
  }

  prune(resources: string[], aliases: string[] = []): Promise<void> {
    const spec: PruneSpec = { type: 'pgstacks:prune', stack: 'test', resources, aliases };
    return this.engine().prune(spec);
  }

  record(id: string) {
    return this.store.get('test', id);
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

/**
 * On-demand benchmark (not a test): how long the pieces of a deploy take.
 *
 *   npx tsx bench/lifecycle.bench.ts
 *
 * Record the figures in bench/RESULTS.md with the date, the machine and this command.
 */
import '../test/support/env';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LifecycleEngine } from '../src/runtime/engine';
import { Logger } from '../src/runtime/log';
import { LocalDirectoryStore } from '../src/runtime/state';
import { startSandbox } from '../src/sandbox';
import { SECRET_ENV, userSpec } from '../test/support/cognite';
import { TerraformProject } from '../test/support/terraform';
import { Widget } from '../test/support/widget';
import { WidgetServer } from '../test/support/widget-server';

const results: Array<[string, string]> = [];
const record = (what: string, ms: number, unit = 'ms') => {
  results.push([what, `${Math.round(ms)} ${unit}`]);
  process.stdout.write(`${what}: ${Math.round(ms)} ${unit}\n`);
};

async function time<T>(fn: () => Promise<T> | T): Promise<[T, number]> {
  const started = performance.now();
  const value = await fn();
  return [value, performance.now() - started];
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function terraformLifecycle(resources: number): Promise<void> {
  const server = await new WidgetServer().start();
  const project = new TerraformProject('bench');
  const declare = (size: number) =>
    project.synth((stack) => {
      for (let i = 0; i < resources; i++) new Widget(stack, `w${i}`, { endpoint: server.url, name: `w-${i}`, size });
    });
  try {
    record(`synth, ${resources} resources, first in the process (bundles the handler)`, (await time(() => declare(1)))[1]);
    record(`synth, ${resources} resources, again`, (await time(() => declare(1)))[1]);
    const handler = fs.readdirSync(path.join(project.stackDir, 'assets'), { recursive: true }).map(String).find((f) => f.endsWith('.js'))!;
    const empty = path.join(project.dir, 'empty-manifest.json');
    fs.writeFileSync(empty, JSON.stringify({ stack: 'none', resources: [] }));
    const starts: number[] = [];
    for (let i = 0; i < 7; i++) {
      const started = performance.now();
      spawnSync('node', [path.join(project.stackDir, 'assets', handler), 'reconcile'], {
        env: { ...process.env, PGSTACKS_MANIFEST: empty, PGSTACKS_STATE_DIR: path.join(project.dir, 'empty') },
      });
      starts.push(performance.now() - started);
    }
    record('handler process, start to exit, empty stack (median of 7)', median(starts));
    await project.init();
    record(`terraform apply, create ${resources} at -parallelism=10`, (await time(() => project.applyOk(['-parallelism=10'])))[1]);
    record(`terraform apply, no change`, (await time(() => project.applyOk(['-parallelism=10'])))[1]);
    declare(2);
    record(`terraform apply, update ${resources} in place at -parallelism=10`, (await time(() => project.applyOk(['-parallelism=10'])))[1]);
    record(`terraform destroy, ${resources} at -parallelism=10`, (await time(() => project.destroyOk(['-parallelism=10'])))[1]);
  } finally {
    await server.stop();
    project.cleanup();
  }
}

async function gatewayUsers(rounds: number): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-bench-'));
  const [sandbox, startMs] = await time(() => startSandbox({ dataDir, port: 0, postgresPort: 0 }));
  record('sandbox start (new data directory: initdb included)', startMs);
  const store = new LocalDirectoryStore(path.join(dataDir, 'state'));
  const engine = new LifecycleEngine({ store, env: { [SECRET_ENV]: sandbox.cognite.defaultClient.clientSecret }, logger: new Logger(() => undefined), version: 'bench' });
  const creates: number[] = [];
  const deletes: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const spec = userSpec(sandbox, `u${i}`);
      creates.push((await time(() => engine.reconcile({ stack: 'test', resources: [spec] })))[1]);
      deletes.push((await time(() => engine.destroyStack('test')))[1]);
    }
    record(`engine run creating one gateway user (plan, preflight, session, user; median of ${rounds})`, median(creates));
    record(`engine destroy of that stack (median of ${rounds})`, median(deletes));
  } finally {
    await sandbox.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  process.stdout.write(`node ${process.version}, ${os.cpus().length} cpus, ${os.cpus()[0]?.model ?? ''}\n`);
  await terraformLifecycle(30);
  await gatewayUsers(5);
  process.stdout.write(`\n| what | time |\n|---|---|\n${results.map(([w, t]) => `| ${w} | ${t} |`).join('\n')}\n`);
}

void main().then(() => process.exit(0), (err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});

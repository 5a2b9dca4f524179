/**
 * On-demand benchmark (not a test): what one engine run per apply costs against Terraform alone.
 *
 *   npx tsx bench/engine.bench.ts [resources=100] [rounds=3] [key=random|passphrase]
 *
 * For two stacks — Cognite gateway users and raw tables on the sandbox (real Postgres DDL behind
 * every call), and test widgets on an in-process HTTP server (near-free calls: pgstacks' own
 * overhead) — it applies the synthesized stack with real terraform and the same stack with every
 * handler command replaced by `true` (Terraform's own cost), in the same run; then, on the Cognite
 * stack, an unchanged re-apply forced through the engine (`-replace=terraform_data.pgstacks`),
 * counting the sandbox's write calls and token requests. The state key is the one the README has
 * users make (`openssl rand -base64 32`), or with `passphrase`, a passphrase (stretched by scrypt).
 * Record the figures in bench/RESULTS.md with the date, the machine and this command.
 */
import '../test/support/env';
import type { TerraformStack } from 'cdktf';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CogniteAuth, CogniteProject, GatewayRawTable, GatewayUser, Secret } from '../constructs';
import { startSandbox, type Sandbox } from '../src/sandbox';
import { TerraformProject } from '../test/support/terraform';
import { Widget } from '../test/support/widget';
import { WidgetServer } from '../test/support/widget-server';

const [resources = 100, rounds = 3] = process.argv.slice(2, 4).map(Number);
const keyKind = process.argv[4] ?? 'random';
const STATE_KEY = keyKind === 'passphrase' ? 'a passphrase of the kind a person picks' : randomBytes(32).toString('base64');
const USERS = 2;

function declare(sandbox: Sandbox, stack: TerraformStack): void {
  const cdf = new CogniteProject(stack, 'cdf', {
    baseUrl: sandbox.cognite.baseUrl,
    project: 'acme',
    auth: CogniteAuth.clientCredentials({ tokenUrl: sandbox.cognite.tokenUrl, clientId: sandbox.cognite.defaultClient.clientId, clientSecret: Secret.fromEnv('CDF_CLIENT_SECRET') }),
  });
  const users = Array.from({ length: USERS }, (_, i) => new GatewayUser(stack, `user-${i}`, { project: cdf }));
  for (let i = 0; i < resources - USERS; i++) {
    new GatewayRawTable(stack, `table-${i}`, {
      user: users[i % USERS],
      tablename: `t${i}`,
      rawDatabase: 'bench',
      rawTable: `t${i}`,
      columns: [{ name: 'id', type: 'TEXT' }, { name: 'value', type: 'DOUBLE PRECISION' }],
    });
  }
}

/** A copy of the synthesized stack whose handler commands are `true`, with its own Terraform state. */
function baselineOf(project: TerraformProject): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-baseline-'));
  fs.cpSync(project.stackDir, dir, { recursive: true });
  const file = path.join(dir, 'cdk.tf.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8'));
  config.terraform.backend.local.path = path.join(dir, 'terraform.tfstate');
  for (const resource of Object.values(config.resource.terraform_data) as Array<{ provisioner?: Array<Record<string, { command: string }>> }>) {
    for (const p of resource.provisioner ?? []) p['local-exec'].command = 'true';
  }
  fs.writeFileSync(file, JSON.stringify(config));
  return dir;
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Median apply times of `declare`'s stack and of its `true` baseline, alternating, each round on fresh state. */
async function compare(declareStack: (stack: TerraformStack) => void, env: Record<string, string>, afterFirst?: (project: TerraformProject) => Promise<void>) {
  const ours: number[] = [];
  const baseline: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const project = new TerraformProject('bench');
    project.env = { PGSTACKS_STATE_KEY: STATE_KEY, ...env };
    project.synth(declareStack);
    const base = baselineOf(project);
    try {
      await project.init(base);
      baseline.push(await time(() => project.applyOk([], base)));
      await project.init();
      ours.push(await time(() => project.applyOk()));
      if (round === 0) await afterFirst?.(project);
      await project.destroyOk();
    } finally {
      project.cleanup();
      fs.rmSync(base, { recursive: true, force: true });
    }
  }
  return { ours: median(ours), baseline: median(baseline) };
}

async function widgets() {
  const server = await new WidgetServer().start();
  let round = 0;
  try {
    return await compare((stack) => {
      round++;
      for (let i = 0; i < resources; i++) new Widget(stack, `w${i}`, { endpoint: server.url, name: `w${i}-${round}`, size: 1 });
    }, {});
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  process.stdout.write(`node ${process.version}, ${os.cpus().length} cpus, terraform on PATH; ${resources} resources, ${rounds} rounds; state key: ${keyKind}\n`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-bench-'));
  const sandbox = await startSandbox({ dataDir, port: 0, postgresPort: 0 });
  let noop = { ms: 0, writes: -1, tokens: -1 };
  let cognite: { ours: number; baseline: number };
  try {
    cognite = await compare((stack) => declare(sandbox, stack), { CDF_CLIENT_SECRET: sandbox.cognite.defaultClient.clientSecret }, async (project) => {
      sandbox.requests.length = 0;
      const ms = await time(() => project.applyOk(['-replace=terraform_data.pgstacks']));
      const writes = sandbox.requests.filter((r) => r.method !== 'GET' && !/\/(byids|inspect|token)$/.test(r.path)).length;
      const tokens = sandbox.requests.filter((r) => r.path.endsWith('/token')).length;
      noop = { ms, writes, tokens };
    });
  } finally {
    await sandbox.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  const widget = await widgets();
  const rows = [
    [`terraform apply, create ${resources} Cognite resources (${USERS} gateway users, ${resources - USERS} raw tables) on the sandbox, median of ${rounds}`, `${Math.round(cognite.ours)} ms`],
    [`the same stack, every handler command replaced by \`true\``, `${Math.round(cognite.baseline)} ms`],
    ['ratio (target ≤ 1.3)', (cognite.ours / cognite.baseline).toFixed(2)],
    [`terraform apply, create ${resources} test widgets on an in-process HTTP server, median of ${rounds}`, `${Math.round(widget.ours)} ms`],
    [`the same stack, every handler command replaced by \`true\``, `${Math.round(widget.baseline)} ms`],
    ['ratio (target ≤ 1.3)', (widget.ours / widget.baseline).toFixed(2)],
    [`unchanged re-apply forced through the engine (-replace=terraform_data.pgstacks)`, `${Math.round(noop.ms)} ms`],
    ['write calls in that re-apply (target 0)', String(noop.writes)],
    ['OAuth token requests in that re-apply (target 1: one service connection)', String(noop.tokens)],
  ];
  process.stdout.write(`\n| what | result |\n|---|---|\n${rows.map(([w, r]) => `| ${w} | ${r} |`).join('\n')}\n`);
}

void main().then(() => process.exit(0), (err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});

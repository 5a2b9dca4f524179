/**
 * On-demand benchmark (not a test): synth of 1,000 pgstacks constructs against synth of 1,000 bare
 * `terraform_data` resources (what Terraform's own cost of the same graph is at synth).
 *
 *   npm run build && npx tsx bench/synth.bench.ts [count=1000] [rounds=5]
 *
 * It synthesizes from the built package (lib/, with its prebuilt handler) when there is one, as an
 * installed pgstacks would; from the sources otherwise (the first synth then bundles the handler).
 * Record the figures in bench/RESULTS.md with the date, the machine and this command.
 */
import '../test/support/env';
import { App, TerraformResource, TerraformStack } from 'cdktf';
import type { Construct } from 'constructs';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const [count = 1000, rounds = 5] = process.argv.slice(2).map(Number);
const built = path.resolve(__dirname, '..', 'lib', 'index.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pgstacks: typeof import('../index') = require(fs.existsSync(built) ? built : '../index');

/** A bare terraform_data with one trigger: the same Terraform graph without pgstacks. */
class BareData extends TerraformResource {
  constructor(scope: Construct, id: string, private readonly index: number) {
    super(scope, id, { terraformResourceType: 'terraform_data', terraformGeneratorMetadata: { providerName: 'terraform' } });
  }
  protected override synthesizeAttributes(): Record<string, unknown> {
    return { triggers_replace: { index: this.index } };
  }
}

function synth(build: (stack: TerraformStack) => void): number {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-synth-bench-'));
  fs.writeFileSync(path.join(outdir, 'cdktf.json'), '{"app":"true","language":"typescript"}');
  const started = performance.now();
  const app = new App({ outdir: path.join(outdir, 'cdktf.out'), context: { cdktfJsonPath: path.join(outdir, 'cdktf.json') } });
  build(new TerraformStack(app, 'bench'));
  app.synth();
  const ms = performance.now() - started;
  fs.rmSync(outdir, { recursive: true, force: true });
  return ms;
}

function pgstacksStack(stack: TerraformStack): void {
  const { CogniteAuth, CogniteProject, GatewayRawTable, GatewayUser, Secret } = pgstacks;
  const cdf = new CogniteProject(stack, 'cdf', {
    baseUrl: 'https://westeurope-1.cognitedata.com',
    project: 'acme',
    auth: CogniteAuth.clientCredentials({ tokenUrl: 'https://login.example.com/token', clientId: 'deployer', clientSecret: Secret.fromEnv('CDF_CLIENT_SECRET') }),
  });
  const user = new GatewayUser(stack, 'user', { project: cdf });
  for (let i = 1; i < count; i++) {
    new GatewayRawTable(stack, `t${i}`, { user, tablename: `t${i}`, rawDatabase: 'db', rawTable: `t${i}`, columns: [{ name: 'id', type: 'TEXT' }] });
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const first = synth(pgstacksStack);
const ours: number[] = [];
const bare: number[] = [];
for (let round = 0; round < rounds; round++) {
  bare.push(synth((stack) => Array.from({ length: count }, (_, i) => new BareData(stack, `d${i}`, i))));
  ours.push(synth(pgstacksStack));
}
const rows = [
  [`synth of ${count} pgstacks constructs (1 gateway user, ${count - 1} raw tables), first in the process (${fs.existsSync(built) ? 'built package' : 'sources: bundles the handler'})`, `${Math.round(first)} ms`],
  [`synth of ${count} pgstacks constructs, median of ${rounds}`, `${Math.round(median(ours))} ms`],
  [`synth of ${count} bare terraform_data, median of ${rounds}`, `${Math.round(median(bare))} ms`],
  ['ratio (target ≤ 1.5)', (median(ours) / median(bare)).toFixed(2)],
];
process.stdout.write(`\n| what | result |\n|---|---|\n${rows.map(([w, r]) => `| ${w} | ${r} |`).join('\n')}\n`);
process.exit(0);

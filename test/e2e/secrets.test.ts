/**
 * Secrets stay sealed through a whole deploy: the CDF client secret and a generated gateway
 * password — the password referenced by another resource — appear in no byte written (cdktf.out,
 * Terraform state, Terraform's output at TF_LOG=TRACE, the state store); a wrong state key stops
 * the deploy before any write; strings that look like Terraform templates stay literal.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CogniteAuth, CogniteProject, GatewayRawTable, GatewayUser, Secret } from '../../index';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { TerraformProject } from '../support/terraform';
import { Widget } from '../support/widget';
import { WidgetServer } from '../support/widget-server';

let sandbox: Sandbox;
let widgets: WidgetServer;
let dataDir: string;
let project: TerraformProject;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-secrets-'));
  sandbox = await startSandbox({ dataDir, port: 0, postgresPort: 0 });
  widgets = await new WidgetServer().start();
});
afterAll(async () => {
  await widgets.stop();
  await sandbox.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});
// Each test deploys the stack itself, so each runs alone.
beforeEach(async () => {
  widgets.things.clear();
  project = new TerraformProject('sealed');
  project.env = { CDF_CLIENT_SECRET: sandbox.cognite.defaultClient.clientSecret };
  project.synth((stack) => {
    const cdf = new CogniteProject(stack, 'cdf', {
      project: 'acme',
      baseUrl: sandbox.cognite.baseUrl,
      auth: CogniteAuth.clientCredentials({ tokenUrl: sandbox.cognite.tokenUrl, clientId: sandbox.cognite.defaultClient.clientId, clientSecret: Secret.fromEnv('CDF_CLIENT_SECRET') }),
    });
    const user = new GatewayUser(stack, 'user', { project: cdf });
    new GatewayRawTable(stack, 'pumps', { user, tablename: 'pumps', rawDatabase: 'ingest', rawTable: 'pumps', columns: [{ name: 'id', type: 'TEXT' }] });
    // A consumer handed the generated password inside a connection string.
    new Widget(stack, 'consumer', { endpoint: widgets.url, name: 'consumer', size: 1, label: `postgres://${user.username}:${user.password}@${user.host}/db` });
    new Widget(stack, 'literal', { endpoint: widgets.url, name: 'literal', size: 1, label: '${file("/proc/self/environ")} %{if true}x%{endif}' });
  });
  deploy = await project.apply();
  if (deploy.code !== 0) throw new Error(deploy.output);
});
afterEach(async () => {
  await project.destroy();
  project.cleanup();
});

let deploy: { code: number; output: string };

/** Every file below `dir`, as text. */
function filesBelow(dir: string): Array<[string, string]> {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((f) => f.isFile())
    .map((f) => path.join(f.parentPath, f.name))
    .map((file) => [file, fs.readFileSync(file, 'latin1')]);
}

test('no secret in any byte written, with a secret output referenced by another resource', async () => {
  const password = (await project.secrets('user')).password;
  expect(password).toMatch(/.{12,}/);
  const consumer = widgets.list().find((w) => w.name === 'consumer');
  expect(consumer?.label).toContain(`:${password}@`);

  const secrets = { 'CDF client secret': sandbox.cognite.defaultClient.clientSecret, 'gateway password': password };
  const written: Array<[string, string]> = [['terraform output', deploy.output], ...filesBelow(project.dir)];
  for (const [what, value] of Object.entries(secrets)) {
    for (const [where, text] of written) {
      if (text.includes(value)) throw new Error(`the ${what} is in ${where}`);
    }
  }
  const record = await project.store.get('sealed', 'consumer');
  const username = (await project.store.get('sealed', 'user'))?.physicalId;
  expect(record?.props.label).toEqual({ $concat: [`postgres://${username}:`, { $ref: { resource: 'user', attribute: 'password' } }, '@127.0.0.1/db'] });
});

test('Terraform at TF_LOG=TRACE prints no secret either', async () => {
  project.env = { ...project.env, TF_LOG: 'TRACE' };
  const traced = await project.apply(['-replace=terraform_data.pgstacks']);
  delete project.env.TF_LOG;
  expect(traced.code).toBe(0);
  expect(traced.output).toContain('[TRACE]');
  const password = (await project.secrets('user')).password;
  for (const value of [sandbox.cognite.defaultClient.clientSecret, password]) expect(traced.output).not.toContain(value);
});

test('template-looking strings stay literal', () => {
  expect(widgets.list().find((w) => w.name === 'literal')?.label).toBe('${file("/proc/self/environ")} %{if true}x%{endif}');
});

test('a wrong state key stops the deploy before any write, naming the variable', async () => {
  const before = JSON.stringify(await project.store.list('sealed'));
  widgets.resetCalls();
  project.env = { ...project.env, PGSTACKS_STATE_KEY: 'a mistyped key' };
  const failed = await project.apply(['-replace=terraform_data.pgstacks']);
  delete project.env.PGSTACKS_STATE_KEY;
  expect(failed.code).not.toBe(0);
  expect(failed.output).toContain("PGSTACKS_STATE_KEY is not the key the secret outputs of stack 'sealed' were sealed with");
  expect(widgets.writes()).toBe(0);
  expect(JSON.stringify(await project.store.list('sealed'))).toBe(before);
});

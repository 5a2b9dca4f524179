/**
 * Splitgraph on Lakebase with real Terraform: the engine installed at a sandbox endpoint as the
 * deploying identity (a database owner, not a superuser), a tracked repository over a table made
 * with the generated credential, a snapshot tagged `v1` deployed, rows changed, and
 * `pgstacks splitgraph checkout shop v1` restoring them. Destroy untracks the repository and keeps
 * the engine (RETAIN).
 */
import type { TerraformStack } from 'cdktf';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import {
  DatabricksAuth,
  DatabricksWorkspace,
  LakebaseBranch,
  LakebaseCredential,
  LakebaseEndpoint,
  LakebaseProject,
  PostgresConnection,
  Secret,
  SplitgraphEngine,
  SplitgraphRepository,
  SplitgraphSnapshot,
} from '../../index';
import { cli } from '../../src/cli';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { TerraformProject } from '../support/terraform';

let sandbox: Sandbox;
let dataDir: string;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-splitgraph-e2e-'));
  sandbox = await startSandbox({ dataDir, port: 0, postgresPort: 0 });
}, 60_000);
afterAll(async () => {
  await sandbox?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

interface Shape {
  readonly repository?: boolean;
  readonly snapshot?: string;
}

function declare(project: TerraformProject, shape: Shape): void {
  project.synth((stack: TerraformStack) => {
    const workspace = new DatabricksWorkspace(stack, 'workspace', {
      host: sandbox.databricks.host,
      auth: DatabricksAuth.oauthM2M({ clientId: sandbox.databricks.defaultClient.clientId, clientSecret: Secret.fromEnv('DATABRICKS_CLIENT_SECRET') }),
    });
    const lake = new LakebaseProject(stack, 'project', { workspace, projectId: 'versions' });
    const production = new LakebaseBranch(stack, 'production', { project: lake, branchId: 'production' });
    const endpoint = new LakebaseEndpoint(stack, 'primary', { branch: production, endpointId: 'primary' });
    const credential = new LakebaseCredential(stack, 'login', { endpoint });
    const connection = PostgresConnection.fromLakebase(stack, 'pg', { endpoint, credential, database: 'databricks_postgres' });
    const engine = new SplitgraphEngine(stack, 'engine', { connection });
    if (!shape.repository) return;
    const shop = new SplitgraphRepository(stack, 'shop', { engine, repository: 'shop', tables: ['fruits'] });
    if (shape.snapshot) new SplitgraphSnapshot(stack, 'release', { repository: shop, tag: shape.snapshot, comment: `release ${shape.snapshot}` });
  });
}

test('a snapshot tagged v1 deployed to a Lakebase endpoint; rows changed; `pgstacks splitgraph checkout shop v1` restores them', async () => {
  const project = new TerraformProject('splitgraph');
  project.env = { DATABRICKS_CLIENT_SECRET: sandbox.databricks.defaultClient.clientSecret };
  // The login the stack made (read once: it stays valid for the hour, after destroy too).
  let credential: { host: string; port: number; user: string; password: string; database: string } | undefined;
  const login = async () => {
    if (credential) return credential;
    const endpoint = (await project.store.get('splitgraph', 'primary'))!.outputs as { host: string; port: number };
    const { username } = (await project.store.get('splitgraph', 'login'))!.outputs as { username: string };
    const { password } = await project.secrets('login');
    return (credential = { host: endpoint.host, port: endpoint.port, user: username, password, database: 'databricks_postgres' });
  };
  const query = async (sql: string): Promise<Array<Record<string, unknown>>> => {
    const db = new Client({ ...(await login()), ssl: { rejectUnauthorized: false } });
    db.on('error', () => undefined); // the sandbox may stop first when a check fails
    await db.connect();
    try {
      return (await db.query(sql)).rows;
    } finally {
      await db.end();
    }
  };
  const fruits = async () => (await query('SELECT id, name, price::text AS price FROM shop.fruits ORDER BY id')).map((r) => `${r.id} ${r.name} ${r.price}`);
  const splitgraphUrl = async () => {
    const { host, port, user, password, database } = await login();
    return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${database}?sslmode=require`;
  };
  const splitgraph = async (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const url = args.includes('--url') ? [] : ['--url', await splitgraphUrl()];
    const code = await cli(['splitgraph', ...args, ...url], { out: (t) => out.push(t), err: (t) => err.push(t), env: {} });
    return { code, out: out.join('\n'), err: err.join('\n'), password: (await login()).password };
  };
  try {
    // The endpoint, a login and the engine, installed as the deploying identity.
    declare(project, {});
    await project.init();
    await project.applyOk();
    expect((await project.store.get('splitgraph', 'engine'))?.outputs).toMatchObject({ version: '1', transfers: false });
    expect((await query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'splitgraph%' ORDER BY 1`)).map((r) => r.nspname)).toEqual(['splitgraph_api', 'splitgraph_audit', 'splitgraph_meta']);

    // A table made with the credential, then versioned; rows inserted after are pending changes.
    await query(`CREATE SCHEMA shop; CREATE TABLE shop.fruits (id int PRIMARY KEY, name text NOT NULL, price numeric(6,2)); INSERT INTO shop.fruits VALUES (1, 'apple', 1.10)`);
    declare(project, { repository: true });
    await project.applyOk();
    await query(`INSERT INTO shop.fruits VALUES (2, 'pear', 2.20), (3, 'plum', 0.50)`);
    const pending = await splitgraph(['status', 'shop']);
    // The endpoint speaks TLS with a self-signed certificate: verify-full refuses it.
    const verified = await splitgraph(['status', 'shop', '--url', (await splitgraphUrl()).replace('sslmode=require', 'sslmode=verify-full')]);
    expect(verified).toMatchObject({ code: 1, err: expect.stringMatching(/cannot connect to postgres:\/\/[^:]+:\*\*\*\*@.*sslmode=verify-full: .*certificate/) });
    expect(pending.out).toMatch(/fruits\s+snapshot\s+2\s+0\s+0/);

    // The release: a snapshot tagged v1, committed at deploy time; deploying again changes nothing.
    declare(project, { repository: true, snapshot: 'v1' });
    const applied = await project.applyOk();
    expect(applied).toMatch(/release: .*committed repository shop as image [0-9a-f]{12} \(fruits: snapshot\)/);
    expect((await project.plan()).code).toBe(0);
    const v1 = (await project.store.get('splitgraph', 'release'))!.outputs as { imageHash: string; tag: string; tables: string };
    expect(v1).toMatchObject({ imageHash: expect.stringMatching(/^[0-9a-f]{64}$/), tag: 'v1', tables: 'fruits' });
    const atV1 = await fruits();
    expect(atV1).toEqual(['1 apple 1.10', '2 pear 2.20', '3 plum 0.50']);

    // Rows change after the release.
    await query(`UPDATE shop.fruits SET price = 9.99 WHERE id = 1; DELETE FROM shop.fruits WHERE id = 3; INSERT INTO shop.fruits VALUES (4, 'kiwi', 3.00)`);
    expect(await fruits()).toEqual(['1 apple 9.99', '2 pear 2.20', '4 kiwi 3.00']);
    const log = await splitgraph(['log', 'shop']);
    expect(log.out).toMatch(new RegExp(`${v1.imageHash.slice(0, 12)}\\s+\\S+\\s+HEAD,v1\\s+release v1`));

    // The operator restores v1: refused while changes are pending, then forced.
    const refused = await splitgraph(['checkout', 'shop', 'v1']);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('repository shop has 3 pending changed rows that are not committed');
    const restored = await splitgraph(['checkout', 'shop', 'v1', '--force']);
    expect(restored.code).toBe(0);
    expect(restored.out).toBe(`Checked out v1 (image ${v1.imageHash.slice(0, 12)}) into schema "shop".`);
    expect(await fruits()).toEqual(atV1);
    const clean = await splitgraph(['status', 'shop']);
    expect(clean.out).toContain('Nothing changed since HEAD.');
    for (const run of [pending, log, refused, restored, clean]) expect(`${run.out}\n${run.err}`).not.toContain(run.password);

    // Destroy: the repository is untracked (nothing pending), the engine and its history stay (RETAIN).
    await project.destroyOk();
    expect(await project.store.list('splitgraph')).toEqual([]);
    expect((await query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'shop.fruits'::regclass AND NOT tgisinternal`))[0].n).toBe(0);
    expect((await query(`SELECT tag FROM splitgraph_meta.tags WHERE repository = 'shop' ORDER BY tag`)).map((r) => r.tag)).toEqual(['HEAD', 'v1']);
    expect(await fruits()).toEqual(atV1);
  } finally {
    project.cleanup();
  }
}, 600_000);

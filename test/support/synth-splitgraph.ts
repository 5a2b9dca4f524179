/** Synthesizes a stack of Splitgraph constructs in a process of its own and prints every module it loaded. */
import { App, TerraformStack } from 'cdktf';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PostgresConnection, Secret, SplitgraphEngine, SplitgraphPush, SplitgraphRepository, SplitgraphSnapshot } from '../../index';

const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-boundaries-'));
const app = new App({ outdir });
const stack = new TerraformStack(app, 'boundaries');
const engine = new SplitgraphEngine(stack, 'engine', { connection: new PostgresConnection(stack, 'pg', { host: 'db.internal', database: 'app', user: 'app', password: Secret.fromEnv('PG_PASSWORD') }) });
const remote = new SplitgraphEngine(stack, 'remote', { connection: new PostgresConnection(stack, 'remote-pg', { host: 'backup.internal', database: 'app', user: 'app', password: Secret.fromEnv('BACKUP_PASSWORD') }) });
const repository = new SplitgraphRepository(stack, 'shop', { engine, repository: 'shop' });
const v1 = new SplitgraphSnapshot(stack, 'v1', { repository, tag: 'v1' });
new SplitgraphPush(stack, 'push', { repository, remote, after: v1 });
app.synth();
fs.rmSync(outdir, { recursive: true, force: true });
process.stdout.write(JSON.stringify(Object.keys(require.cache)));

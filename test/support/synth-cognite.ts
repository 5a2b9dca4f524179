/** Synthesizes a Cognite stack in a process of its own and prints every module it loaded. */
import { App, TerraformStack } from 'cdktf';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CogniteAuth, CogniteProject, GatewayRawTable, GatewayUser, Secret } from '../../index';

const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-boundaries-'));
const app = new App({ outdir });
const stack = new TerraformStack(app, 'boundaries');
const cdf = new CogniteProject(stack, 'cdf', {
  baseUrl: 'https://westeurope-1.cognitedata.com',
  project: 'acme',
  auth: CogniteAuth.clientCredentials({ tokenUrl: 'https://login.example.com/token', clientId: 'deployer', clientSecret: Secret.fromEnv('CDF_CLIENT_SECRET') }),
});
const user = new GatewayUser(stack, 'user', { project: cdf });
new GatewayRawTable(stack, 'pumps', { user, tablename: 'pumps', rawDatabase: 'db', rawTable: 'pumps', columns: [{ name: 'id', type: 'TEXT' }] });
app.synth();
fs.rmSync(outdir, { recursive: true, force: true });
process.stdout.write(JSON.stringify(Object.keys(require.cache)));

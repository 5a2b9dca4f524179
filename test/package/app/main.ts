import { App, TerraformStack } from 'cdktf';
import { CogniteProject, GatewayRawTable, GatewayUser } from 'pgstacks';

const app = new App();
const stack = new TerraformStack(app, 'ingestion');

// CDF_BASE_URL, CDF_PROJECT, CDF_TOKEN_URL, CDF_CLIENT_ID; the secret CDF_CLIENT_SECRET is read at deploy.
const cdf = CogniteProject.fromEnvironment(stack, 'cdf');
const adf = new GatewayUser(stack, 'adf-sink', { project: cdf }); // CDF generates username and password at deploy
new GatewayRawTable(stack, 'pumps', {
  user: adf,
  tablename: 'pumps',
  rawDatabase: 'ingest',
  rawTable: 'pumps',
  primaryKey: 'id',
  columns: [{ name: 'id', type: 'TEXT' }, { name: 'pressure', type: 'DOUBLE PRECISION' }],
});
app.synth();

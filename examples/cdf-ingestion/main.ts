/** The ingestion example on its own: `cd examples/cdf-ingestion && npx cdktf deploy`. */
import { App, TerraformStack } from 'cdktf';
import { CogniteProject } from 'pgstacks';
import { CdfIngestion } from './ingestion';

const app = new App();
const stack = new TerraformStack(app, 'cdf-ingestion');
new CdfIngestion(stack, 'cdf', { project: CogniteProject.fromEnvironment(stack, 'acme') });
app.synth();

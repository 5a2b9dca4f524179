/** The ingestion example on its own: `cd examples/cdf-ingestion && npx cdktf deploy`. */
import { App, TerraformStack } from 'cdktf';
import { CdfIngestion } from './ingestion';
import { cogniteProjectFromEnv } from './project-from-env';

const app = new App();
const stack = new TerraformStack(app, 'cdf-ingestion');
new CdfIngestion(stack, 'cdf', { project: cogniteProjectFromEnv(stack, 'acme') });
app.synth();

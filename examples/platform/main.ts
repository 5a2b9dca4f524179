/**
 * The platform: every pgstacks service composed in one stack. Deployed by the repository's
 * cdktf.json (`npx cdktf deploy platform`) or, against the sandbox, by `npm run platform`.
 */
import { App, TerraformStack } from 'cdktf';
import { CogniteProject } from 'pgstacks';
import { CdfIngestion } from '../cdf-ingestion/ingestion';

const app = new App();
const stack = new TerraformStack(app, 'platform');
new CdfIngestion(stack, 'cdf', { project: CogniteProject.fromEnvironment(stack, 'acme') });
app.synth();

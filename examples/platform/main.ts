/**
 * The platform: every pgstacks service composed in one stack. Deployed by the repository's
 * cdktf.json (`npx cdktf deploy platform`) or, against the sandbox, by `npm run platform`.
 */
import { App, TerraformStack } from 'cdktf';
import { AtlanTenant, CogniteProject, DatabricksWorkspace, LakebaseCredential } from 'pgstacks';
import { CdfIngestion } from '../cdf-ingestion/ingestion';
import { crawlerIdentityFromEnvironment, LakebaseInAtlan } from '../catalog-lakebase-in-atlan/catalog';
import { LakebaseBranches } from '../lakebase-branches/branches';

const app = new App();
const stack = new TerraformStack(app, 'platform');
new CdfIngestion(stack, 'cdf', { project: CogniteProject.fromEnvironment(stack, 'acme') });
const workspace = DatabricksWorkspace.fromEnvironment(stack, 'databricks');
const lakebase = new LakebaseBranches(stack, 'lakebase', { workspace, teams: ['checkout', 'search'] });
// A short-lived login for the deploying identity at the checkout team's endpoint (renewed by deploys).
new LakebaseCredential(stack, 'checkout-login', { endpoint: lakebase.teams.checkout.endpoint });
// Atlan catalogs what the checkout team's branch holds.
new LakebaseInAtlan(stack, 'catalog', {
  tenant: AtlanTenant.fromEnvironment(stack, 'atlan'),
  endpoint: lakebase.teams.checkout.endpoint,
  crawlerIdentity: crawlerIdentityFromEnvironment(stack, 'crawler-identity', workspace),
});
app.synth();

/** The Atlan example on its own: `cd examples/catalog-lakebase-in-atlan && npx cdktf deploy`. */
import { App, TerraformStack } from 'cdktf';
import { AtlanTenant, DatabricksWorkspace, LakebaseBranch, LakebaseEndpoint, LakebaseProject } from 'pgstacks';
import { crawlerIdentityFromEnvironment, LakebaseInAtlan } from './catalog';

const app = new App();
const stack = new TerraformStack(app, 'catalog-lakebase-in-atlan');
const workspace = DatabricksWorkspace.fromEnvironment(stack, 'workspace');
const project = new LakebaseProject(stack, 'project', { workspace, projectId: 'shop' });
const production = new LakebaseBranch(stack, 'production', { project, branchId: 'production' });
const endpoint = new LakebaseEndpoint(stack, 'endpoint', { branch: production, endpointId: 'primary' });
new LakebaseInAtlan(stack, 'catalog', {
  tenant: AtlanTenant.fromEnvironment(stack, 'atlan'),
  endpoint,
  crawlerIdentity: crawlerIdentityFromEnvironment(stack, 'crawler-identity', workspace),
});
app.synth();

/** The Lakebase example on its own: `cd examples/lakebase-branches && npx cdktf deploy`. */
import { App, TerraformStack } from 'cdktf';
import { DatabricksWorkspace } from 'pgstacks';
import { LakebaseBranches } from './branches';

const app = new App();
const stack = new TerraformStack(app, 'lakebase-branches');
new LakebaseBranches(stack, 'lakebase', { workspace: DatabricksWorkspace.fromEnvironment(stack, 'workspace'), teams: ['checkout', 'search'] });
app.synth();

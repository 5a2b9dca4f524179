// The app's own unit test, where `cdktf init` puts it, using cdktf's Testing matchers (setup.js).
import "cdktf/lib/testing/adapters/jest"; // Load types for expect matchers
import { Construct } from "constructs";
import { TerraformStack, Testing } from "cdktf";
import { CogniteProject, GatewayRawTable, GatewayUser } from "pgstacks";

// pgstacks' lifecycle resources are Terraform's built-in terraform_data, which cdktf has no class for.
const TerraformData = { tfResourceType: "terraform_data" };

// The variables `npx pgstacks sandbox` prints, as a test passes them instead of the process's.
function project(scope: Construct): CogniteProject {
  return CogniteProject.fromEnvironment(scope, "cdf", {
    CDF_BASE_URL: "http://127.0.0.1:4610/cognite",
    CDF_PROJECT: "acme",
    CDF_TOKEN_URL: "http://127.0.0.1:4610/login/sandbox/oauth2/v2.0/token",
    CDF_CLIENT_ID: "deployer",
  });
}

describe("My CDKTF Application", () => {
  it("declares a gateway user's lifecycle resource, with its secret by name only", () => {
    process.env.CDF_CLIENT_SECRET = "the-secret-value";
    const synthesized = Testing.synthScope((scope) => {
      new GatewayUser(scope, "adf-sink", { project: project(scope) });
    });
    expect(synthesized).toHaveResourceWithProperties(TerraformData, {
      triggers_replace: { spec: expect.stringContaining('"type":"cognite:gateway-user"') },
    });
    expect(synthesized).toContain("CDF_CLIENT_SECRET");
    expect(synthesized).not.toContain("the-secret-value");
  });

  it("declares a table's lifecycle resource, and the stack's reconciler", () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, "ingestion");
    const adf = new GatewayUser(stack, "adf-sink", { project: project(stack) });
    new GatewayRawTable(stack, "pumps", {
      user: adf,
      tablename: "pumps",
      rawDatabase: "ingest",
      rawTable: "pumps",
      primaryKey: "id",
      columns: [{ name: "id", type: "TEXT" }],
    });
    const synthesized = Testing.synth(stack);
    expect(synthesized).toHaveResourceWithProperties(TerraformData, {
      triggers_replace: { spec: expect.stringContaining('"id":"pumps"') },
    });
    expect(JSON.parse(synthesized).resource.terraform_data).toHaveProperty("pgstacks.provisioner");
  });
});

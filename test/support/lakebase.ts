/** Specs and checks for the Lakebase resource types against the sandbox's Databricks emulator. */
import { loadResourceTypes } from '../../src/manifests';
import type { ResourceSpec } from '../../src/runtime/spec';
import { DatabricksClient } from '../../src/clients/databricks';
import type { Sandbox } from '../../src/sandbox';

loadResourceTypes();

/** The variable the tests' specs read the service principal's secret from. */
export const WORKSPACE_SECRET = 'TEST_DATABRICKS_CLIENT_SECRET';

/** The workspace connection, inline (as the engine sees it once connections are expanded). */
export function workspace(sandbox: Sandbox) {
  return { host: sandbox.databricks.host, auth: { clientId: sandbox.databricks.defaultClient.clientId, clientSecret: { $secret: { fromEnv: WORKSPACE_SECRET } } } };
}

export const ref = (resource: string, attribute = 'name') => ({ $ref: { resource, attribute } });

const KINDS = ['project', 'branch', 'endpoint', 'role', 'database', 'catalog', 'synced-table', 'credential'] as const;
export type LakebaseKindName = (typeof KINDS)[number];

/** A Lakebase resource's spec, in a workspace of the sandbox. */
export function lakebaseSpec(sandbox: Sandbox, kind: LakebaseKindName, id: string, props: Record<string, unknown>, options: Partial<ResourceSpec> = {}): ResourceSpec {
  return {
    type: `databricks:lakebase-${kind}`,
    stack: 'test',
    id,
    props: { workspace: workspace(sandbox), ...props } as ResourceSpec['props'],
    removalPolicy: 'destroy',
    allowReplacement: false,
    aliases: [],
    ...options,
  };
}

/** A client as the deploying service principal, to look at what the sandbox holds. */
export function lakebase(sandbox: Sandbox): DatabricksClient {
  const { clientId, clientSecret } = sandbox.databricks.defaultClient;
  return new DatabricksClient({ host: sandbox.databricks.host, auth: { clientId, clientSecret } });
}

/** The requests the sandbox received for the Lakebase API, as `METHOD path?query`. */
export function lakebaseCalls(sandbox: Sandbox): string[] {
  return sandbox.requests.filter((r) => r.path.startsWith('/api/2.0/postgres/')).map((r) => `${r.method} ${r.path.slice('/api/2.0/postgres/'.length)}`);
}

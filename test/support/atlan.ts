/** Specs and checks for the Atlan resource type against the sandbox's Atlan emulator. */
import { loadResourceTypes } from '../../src/manifests';
import type { ResourceSpec } from '../../src/runtime/spec';
import type { Sandbox } from '../../src/sandbox';
import { Atlan, connectionByName, findByType } from '../sandbox/atlan-support';

export { Atlan, createSource } from '../sandbox/atlan-support';

loadResourceTypes();

/** The variables the tests' specs read the API key and the crawler's password from. */
export const API_KEY_VARIABLE = 'TEST_ATLAN_API_KEY';
export const PASSWORD_VARIABLE = 'TEST_CRAWLER_PASSWORD';

/** The tenant connection, inline (as the engine sees it once connections are expanded). */
export function tenant(sandbox: Sandbox, api: 'workflow' | 'app' | 'auto' = 'auto') {
  return { baseUrl: sandbox.atlan.baseUrl, apiKey: { $secret: { fromEnv: API_KEY_VARIABLE } }, api };
}

/** A crawler of `database` on the sandbox's Postgres, logging in as `username` with the password from PASSWORD_VARIABLE. */
export function crawlerSpec(
  sandbox: Sandbox,
  id: string,
  props: { connectionName: string; database: string; username: string; api?: 'workflow' | 'app' | 'auto' } & Record<string, unknown>,
  options: Partial<ResourceSpec> = {},
): ResourceSpec {
  const { connectionName, database, username, api, ...rest } = props;
  return {
    type: 'atlan:postgres-crawler',
    stack: 'test',
    id,
    props: {
      tenant: tenant(sandbox, api),
      connectionName,
      admins: { roles: ['$admin'] },
      source: { extraction: 'direct', host: '127.0.0.1', port: sandbox.postgres.port, database, auth: { type: 'basic', username, password: { $secret: { fromEnv: PASSWORD_VARIABLE } } } },
      ...rest,
    } as ResourceSpec['props'],
    removalPolicy: 'destroy',
    allowReplacement: false,
    aliases: [],
    ...options,
  };
}

/** The requests the sandbox received for Atlan, as `METHOD path[?query] status`. */
export function atlanCalls(sandbox: Sandbox): string[] {
  return sandbox.requests.filter((r) => r.path.startsWith('/api/')).map((r) => `${r.method} ${r.path}${r.query ? `?${r.query}` : ''} ${r.status ?? '-'}`);
}

/** The calls that create a workflow or start a run, on either API. */
export function submits(sandbox: Sandbox): string[] {
  return atlanCalls(sandbox).filter((c) => /^POST \/api\/service\/(package-)?workflows(\?|\/submit )/.test(c) || /^POST \/api\/service\/v1\/app(\?| |\/[^/]+\/submit )/.test(c));
}

/** What the tenant holds for a connection name: workflows (legacy and App), connections, and the workflows' credentials. */
export async function holdings(atlan: Atlan, connectionName: string): Promise<{ workflows: string[]; apps: string[]; connections: string[] }> {
  const templates = await atlan.ok('POST', '/api/service/workflows/indexsearch', findByType('atlan-postgres', 1000)).catch(() => ({ hits: { hits: [] } }));
  const workflows = templates.hits.hits
    .filter((h: any) => {
      const parameters = h._source.spec.templates[0].dag.tasks[0].arguments.parameters;
      return JSON.parse(parameters.find((p: any) => p.name === 'connection').value).attributes.name === connectionName;
    })
    .map((h: any) => h._id);
  const listed = await atlan.ok('GET', '/api/service/v1/app?limit=500').catch(() => ({ workflows: [] }));
  const apps = listed.workflows.filter((w: any) => w.inputs.connection.attributes.name === connectionName).map((w: any) => w.slug);
  const found = await atlan.ok('POST', '/api/meta/search/indexsearch', connectionByName(connectionName));
  return { workflows, apps, connections: (found.entities ?? []).map((e: any) => e.attributes.qualifiedName) };
}

/** Names of the active assets of a type under a connection. */
export async function assetNames(atlan: Atlan, qualifiedName: string, typeName: string): Promise<string[]> {
  return (await atlan.assets(qualifiedName, typeName)).map((e) => e.attributes.qualifiedName.slice(qualifiedName.length + 1));
}

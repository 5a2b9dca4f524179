/**
 * Helpers for the Atlan emulator's tests: raw calls with an API key, the request bodies the
 * official clients build (a Postgres crawler workflow, connection-delete, the searches), and a
 * source database for crawls.
 */
import { request } from 'undici';
import type { Sandbox } from '../../src/sandbox';
import { asSuperuser } from './support';

export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: any;
}

/** Calls the tenant at the sandbox's root as one API key (`null`: unauthenticated). */
export class Atlan {
  constructor(
    readonly sandbox: Sandbox,
    readonly token: string | null = sandbox.atlan.apiKey,
  ) {}

  async call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<Reply> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await request(`${this.sandbox.atlan.baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  }

  get(path: string): Promise<Reply> {
    return this.call('GET', path);
  }

  post(path: string, body?: unknown): Promise<Reply> {
    return this.call('POST', path, body);
  }

  /** POST that must answer 200; returns the body. */
  async ok(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<any> {
    const res = await this.call(method, path, body);
    if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  /** The latest run of a template (what `monitor` polls). */
  async latestRun(template: string): Promise<any> {
    const res = await this.ok('POST', '/api/service/runs/indexsearch', {
      from: 0,
      size: 1,
      track_total_hits: true,
      query: { bool: { filter: [{ nested: { path: 'spec', query: { term: { 'spec.workflowTemplateRef.name.keyword': { value: template } } } } }] } },
      sort: [{ 'status.startedAt': { order: 'desc' } }],
    });
    return res.hits.hits[0]?._source;
  }

  /** Assets of a type under a connection, active ones unless `state` says otherwise. */
  async assets(connectionQn: string, typeName: string, state = 'ACTIVE'): Promise<any[]> {
    const res = await this.ok('POST', '/api/meta/search/indexsearch', {
      dsl: {
        from: 0,
        size: 1000,
        query: {
          bool: {
            filter: [
              { term: { __state: { value: state } } },
              { term: { '__typeName.keyword': { value: typeName } } },
              { term: { connectionQualifiedName: { value: connectionQn } } },
            ],
          },
        },
        sort: [{ qualifiedName: { order: 'asc' } }],
      },
      attributes: ['qualifiedName', 'name', 'connectionQualifiedName', 'schemaName', 'tableName', 'viewName', 'dataType'],
    });
    return res.entities ?? [];
  }
}

export interface PostgresWorkflowOptions {
  readonly epoch: number;
  readonly connectionName: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly username?: string;
  readonly password?: string;
  readonly authType?: string;
  readonly adminRoles?: string[];
  readonly adminGroups?: string[];
  readonly adminUsers?: string[];
  readonly include?: Record<string, string[]>;
  readonly exclude?: Record<string, string[]>;
  readonly tempTableRegex?: string;
  readonly extraction?: 'direct' | 's3';
}

const anchor = (map: Record<string, string[]> | undefined) =>
  JSON.stringify(Object.fromEntries(Object.entries(map ?? {}).map(([db, schemas]) => [`^${db}$`, schemas.map((s) => `^${s}$`)])));

/** The body of `POST workflows?submit=true` as pyatlan's PostgresCrawler builds it (direct, basic auth). */
export function postgresWorkflow(o: PostgresWorkflowOptions): any {
  const name = `atlan-postgres-${o.epoch}`;
  const connection = {
    typeName: 'Connection',
    attributes: {
      qualifiedName: `default/postgres/${o.epoch}`,
      name: o.connectionName,
      adminUsers: o.adminUsers ?? [],
      adminGroups: o.adminGroups ?? [],
      connectorName: 'postgres',
      isDiscoverable: true,
      isEditable: false,
      adminRoles: o.adminRoles ?? [],
      category: 'database',
      allowQuery: true,
      allowQueryPreview: true,
      rowLimit: 10000,
      defaultCredentialGuid: '{{credentialGuid}}',
      sourceLogo: 'https://www.postgresql.org/media/img/about/press/elephant.png',
    },
    guid: '-7312345678901234',
  };
  const s3 = o.extraction === 's3';
  return {
    metadata: {
      name,
      namespace: 'default',
      labels: {
        'orchestration.atlan.com/certified': 'true',
        'orchestration.atlan.com/source': 'postgres',
        'orchestration.atlan.com/sourceCategory': 'database',
        'orchestration.atlan.com/type': 'connector',
        'orchestration.atlan.com/verified': 'true',
        'package.argoproj.io/installer': 'argopm',
        'package.argoproj.io/name': 'a-t-ratlans-l-a-s-hpostgres',
        'package.argoproj.io/registry': 'httpsc-o-l-o-ns-l-a-s-hs-l-a-s-hpackages.atlan.com',
        [`orchestration.atlan.com/default-postgres-${o.epoch}`]: 'true',
        'orchestration.atlan.com/atlan-ui': 'true',
        'orchestration.atlan.com/dependentPackage': '',
      },
      annotations: {
        'orchestration.atlan.com/allowSchedule': 'true',
        'orchestration.atlan.com/categories': 'postgres,crawler',
        'orchestration.atlan.com/name': 'Postgres Assets',
        'package.argoproj.io/name': '@atlan/postgres',
        'package.argoproj.io/keywords': '["postgres","database","sql","connector","crawler"]',
        'orchestration.atlan.com/atlanName': `atlan-postgres-default-postgres-${o.epoch}`,
      },
    },
    spec: {
      entrypoint: 'main',
      templates: [
        {
          name: 'main',
          dag: {
            tasks: [
              {
                name: 'run',
                arguments: {
                  parameters: [
                    ...(s3
                      ? [
                          { name: 'extraction-method', value: 's3' },
                          { name: 'metadata-s3-bucket', value: 'bucket' },
                          { name: 'metadata-s3-prefix', value: 'prefix' },
                          { name: 'metadata-s3-region', value: null },
                        ]
                      : [{ name: 'extraction-method', value: 'direct' }]),
                    { name: 'include-filter', value: anchor(o.include) },
                    { name: 'exclude-filter', value: anchor(o.exclude) },
                    ...(o.tempTableRegex ? [{ name: 'temp-table-regex', value: o.tempTableRegex }] : []),
                    { name: 'use-source-schema-filtering', value: true },
                    { name: 'use-jdbc-internal-methods', value: true },
                    { name: 'credential-guid', value: '{{credentialGuid}}' },
                    { name: 'connection', value: JSON.stringify(connection) },
                    { name: 'publish-mode', value: 'production' },
                  ],
                },
                templateRef: { name: 'atlan-postgres', template: 'main', clusterScope: true },
              },
            ],
          },
        },
      ],
      workflowMetadata: { annotations: { 'package.argoproj.io/name': '@atlan/postgres' } },
    },
    payload: s3
      ? []
      : [
          {
            parameter: 'credentialGuid',
            type: 'credential',
            body: {
              name: `default-postgres-${o.epoch}-0`,
              host: o.host,
              port: o.port,
              authType: o.authType ?? 'basic',
              username: o.username,
              password: o.password,
              extra: { database: o.database },
              connectorConfigName: 'atlan-connectors-postgres',
            },
          },
        ],
  };
}

/** The connection-delete package's workflow (pyatlan's ConnectionDelete). */
export function connectionDeleteWorkflow(epoch: number, qualifiedName: string, purge: boolean): any {
  return {
    metadata: {
      name: `atlan-connection-delete-${epoch}`,
      namespace: 'default',
      labels: { 'orchestration.atlan.com/type': 'utility', 'package.argoproj.io/name': 'a-t-ratlans-l-a-s-hconnection-delete' },
      annotations: { 'package.argoproj.io/name': '@atlan/connection-delete', 'orchestration.atlan.com/atlanName': `atlan-connection-delete-${epoch}` },
    },
    spec: {
      entrypoint: 'main',
      templates: [
        {
          name: 'main',
          dag: {
            tasks: [
              {
                name: 'run',
                arguments: {
                  parameters: [
                    { name: 'connection-qualified-name', value: qualifiedName },
                    { name: 'delete-assets', value: 'true' },
                    { name: 'delete-type', value: purge ? 'PURGE' : 'SOFT' },
                  ],
                },
                templateRef: { name: 'atlan-connection-delete', template: 'main', clusterScope: true },
              },
            ],
          },
        },
      ],
      workflowMetadata: { annotations: { 'package.argoproj.io/name': '@atlan/connection-delete' } },
    },
    payload: [],
  };
}

/** pyatlan's find_by_type: templates named `<prefix>-<10 digits>`, newest first. */
export function findByType(prefix: string, size = 10): any {
  return {
    from: 0,
    size,
    track_total_hits: true,
    query: { bool: { filter: [{ nested: { path: 'metadata', query: { regexp: { 'metadata.name.keyword': { value: `${prefix.replace(/-/g, '[-]')}[-][0-9]{10}` } } } } }] } },
    sort: [{ 'metadata.creationTimestamp': { order: 'desc', nested: { path: 'metadata' } } }],
  };
}

/** pyatlan's find_connections_by_name query (its type value is upper case). */
export function connectionByName(name: string): any {
  return {
    dsl: {
      from: 0,
      size: 300,
      track_total_hits: true,
      query: {
        bool: {
          filter: [
            { term: { __state: { value: 'ACTIVE' } } },
            { term: { '__typeName.keyword': { value: 'CONNECTION' } } },
            { term: { 'name.keyword': { value: name } } },
            { term: { connectorName: { value: 'postgres' } } },
          ],
        },
      },
      sort: [{ __guid: { order: 'asc' } }],
    },
    attributes: ['qualifiedName', 'name', 'connectorName', 'defaultCredentialGuid'],
    relationAttributes: ['name'],
    requestMetadata: { saveSearchLog: false, utmTags: ['project_sdk_python'] },
  };
}

/** Creates `database` in the sandbox's Postgres and runs `sql` in it as the superuser. */
export async function createSource(sandbox: Sandbox, database: string, sql: string): Promise<void> {
  await asSuperuser(sandbox, 'postgres', (c) => c.query(`CREATE DATABASE "${database}"`));
  await asSuperuser(sandbox, database, (c) => c.query(sql));
}

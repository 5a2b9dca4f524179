/**
 * Atlan's Postgres crawler on the wire, for both APIs: a crawler's settings, the WorkflowTemplate
 * JSON of the legacy package (built as pyatlan's `PostgresCrawler(...).to_workflow()` builds it,
 * and read back), the App API's inputs, credentials, asset filters and the connection-delete
 * package. Pure functions and types: the client (atlan.ts) sends what they build.
 */
import {
  ATLAN_CONNECTOR_CONFIG_NAME,
  ATLAN_CONNECTOR_TYPE,
  ATLAN_PACKAGES,
  ATLAN_TERMINAL_APP_RUN_STATUSES,
  ATLAN_TERMINAL_RUN_PHASES,
  type AtlanAuthType,
} from '../services/atlan';

/** A database → schemas map as users write it (`{ shop: ['sales'] }`; an empty list: every schema). */
export type AssetFilter = Readonly<Record<string, readonly string[]>>;

/** Where a crawl reads from. */
export type CrawlSource =
  | { readonly extraction: 'direct' }
  | { readonly extraction: 's3'; readonly bucket: string; readonly prefix: string; readonly region?: string };

/** Everything a Postgres crawler workflow says, whichever API holds it. */
export interface PostgresCrawlerSettings {
  readonly connectionName: string;
  readonly connectionQualifiedName: string;
  /** Role ids. */
  readonly adminRoles: readonly string[];
  /** Internal group names. */
  readonly adminGroups: readonly string[];
  readonly adminUsers: readonly string[];
  readonly rowLimit: number;
  readonly allowQuery: boolean;
  readonly allowQueryPreview: boolean;
  readonly source: CrawlSource;
  /** Encoded as the crawler takes them: `{"^db$": ["^schema$"]}`. */
  readonly include: AssetFilter;
  readonly exclude: AssetFilter;
  readonly tempTableRegex?: string;
  readonly sourceLevelFiltering: boolean;
  readonly jdbcInternalMethods: boolean;
}

/** A Postgres credential as Heracles stores it (camelCase); reads never return the password. */
export interface AtlanCredential {
  readonly id?: string;
  readonly name: string;
  readonly host?: string | null;
  readonly port?: number | null;
  readonly authType: AtlanAuthType | string;
  readonly connectorType?: string | null;
  readonly username?: string | null;
  readonly password?: string | null;
  readonly extra?: Record<string, unknown> | null;
  readonly connectorConfigName: string;
}

export interface AtlanRole {
  readonly id: string;
  readonly name: string;
}
export interface AtlanGroup {
  readonly id: string;
  readonly name: string;
  readonly alias?: string;
}
export interface AtlanUser {
  readonly id: string;
  readonly username: string;
}

/** A run of either API, normalized. */
export interface AtlanRun {
  /** The legacy run's name (`<template>-xxxxx`) or the App run's id. */
  readonly id: string;
  /** Pending, Running, Succeeded, Failed, Error (legacy); the App API adds Paused, Stopped, Terminated, Skipped. */
  readonly phase: string;
  readonly message?: string;
  /** The WorkflowTemplate or App slug it runs. */
  readonly workflow: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  /** Legacy: the template's parameters as they were when the run was submitted. */
  readonly parameters?: ReadonlyMap<string, unknown>;
}

export const isRunDone = (run: AtlanRun): boolean =>
  (ATLAN_TERMINAL_RUN_PHASES as readonly string[]).includes(run.phase) || (ATLAN_TERMINAL_APP_RUN_STATUSES as readonly string[]).includes(run.phase);
export const isRunActive = (run: AtlanRun): boolean => !isRunDone(run);
export const isRunSucceeded = (run: AtlanRun): boolean => run.phase === 'Succeeded';

/** A legacy WorkflowTemplate as the workflow index holds it. */
export interface WorkflowTemplate {
  readonly metadata: { readonly name: string; readonly labels?: Record<string, string>; readonly annotations?: Record<string, string>; readonly [key: string]: unknown };
  readonly spec: Record<string, any>;
}

/** An App API workflow as get and list show it. */
export interface AppWorkflow {
  readonly slug: string;
  readonly name: string;
  readonly app_id: string;
  readonly version?: number;
  readonly entrypoint?: string | null;
  readonly inputs: Record<string, any>;
}

/** An Atlas entity as index search answers it. */
export interface AtlanAsset {
  readonly typeName: string;
  readonly guid: string;
  readonly status?: string;
  readonly attributes: Record<string, any>;
}

// ================================================================ the Postgres crawler, as the SDKs build it

const LOGO = 'https://www.postgresql.org/media/img/about/press/elephant.png';
export const CREDENTIAL_PLACEHOLDER = '{{credentialGuid}}';

/** The connection qualified name's epoch: `default/postgres/<epoch>`. */
export function connectionQualifiedName(epoch: number): string {
  return `default/${ATLAN_CONNECTOR_TYPE}/${epoch}`;
}

/** The legacy workflow's (template's) name for an epoch. */
export function postgresWorkflowName(epoch: number): string {
  return `${ATLAN_PACKAGES.postgres.prefix}-${epoch}`;
}

/** The credential name the SDKs give a workflow's credential: `default-postgres-<epoch>-0`. */
export function credentialName(epoch: number): string {
  return `default-${ATLAN_CONNECTOR_TYPE}-${epoch}-0`;
}

/** The epoch in a legacy workflow name or a connection qualified name. */
export function epochOf(name: string): number | undefined {
  const match = /(\d{9,})$/.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** A literal name as a crawler filter regex: anchored, with regex characters escaped. */
export function anchored(name: string): string {
  return `^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
}

/** A user's `{db: [schemas]}` map as the crawler takes it: `{"^db$": ["^schema$"]}`. */
export function encodeFilter(filter: AssetFilter | undefined): AssetFilter {
  return Object.fromEntries(Object.entries(filter ?? {}).map(([db, schemas]) => [anchored(db), schemas.map(anchored)]));
}

/** A filter parameter or input (a JSON string, or an object) as a map; unreadable values as `{}`. */
export function parseFilter(value: unknown): AssetFilter {
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = value.trim() === '' ? {} : JSON.parse(value);
    } catch {
      return {};
    }
  }
  if (!isObject(parsed)) return {};
  return Object.fromEntries(Object.entries(parsed).filter(([, v]) => Array.isArray(v)).map(([k, v]) => [k, (v as unknown[]).map(String)]));
}

/** Whether two filter maps say the same (order does not matter). */
export function sameFilter(a: AssetFilter, b: AssetFilter): boolean {
  const norm = (f: AssetFilter) => JSON.stringify(Object.keys(f).sort().map((k) => [k, [...(f[k] ?? [])].sort()]));
  return norm(a) === norm(b);
}

/** The filter as the Python SDK serializes it (`json.dumps`: a space after `:` and `,`). */
function filterParameter(filter: AssetFilter): string {
  const entries = Object.entries(filter).map(([db, schemas]) => `${JSON.stringify(db)}: [${schemas.map((s) => JSON.stringify(s)).join(', ')}]`);
  return `{${entries.join(', ')}}`;
}

/** The `connection` entity's attributes. */
function connectionAttributes(s: PostgresCrawlerSettings, credentialGuid: string | undefined): Record<string, unknown> {
  return {
    qualifiedName: s.connectionQualifiedName,
    name: s.connectionName,
    adminUsers: [...s.adminUsers],
    adminGroups: [...s.adminGroups],
    connectorName: ATLAN_CONNECTOR_TYPE,
    isDiscoverable: true,
    isEditable: false,
    adminRoles: [...s.adminRoles],
    category: 'database',
    allowQuery: s.allowQuery,
    allowQueryPreview: s.allowQueryPreview,
    rowLimit: s.rowLimit,
    defaultCredentialGuid: credentialGuid ?? CREDENTIAL_PLACEHOLDER,
    sourceLogo: LOGO,
  };
}

/** A client-side placeholder guid, as the SDKs put in the `connection` parameter (negative, stable per workflow). */
function placeholderGuid(epoch: number): string {
  return `-${String(epoch).padEnd(16, '7')}`;
}

/**
 * The body of `POST workflows?submit=true` (and of an update), as pyatlan's `PostgresCrawler`
 * builds it (§2.7 of the reference): the workflow named for `epoch`, the credential inline in
 * `payload` (none for offline extraction), or `credentialGuid` in its place on an update.
 */
export function postgresWorkflow(epoch: number, s: PostgresCrawlerSettings, credential: { inline?: AtlanCredential; guid?: string }): { metadata: Record<string, unknown>; spec: Record<string, unknown>; payload: unknown[] } {
  const name = postgresWorkflowName(epoch);
  const guid = credential.guid ?? CREDENTIAL_PLACEHOLDER;
  const source: Array<{ name: string; value: unknown }> =
    s.source.extraction === 's3'
      ? [
          { name: 'extraction-method', value: 's3' },
          { name: 'metadata-s3-bucket', value: s.source.bucket },
          { name: 'metadata-s3-prefix', value: s.source.prefix },
          { name: 'metadata-s3-region', value: s.source.region ?? null },
        ]
      : [{ name: 'extraction-method', value: 'direct' }];
  const parameters = [
    ...source,
    { name: 'include-filter', value: filterParameter(s.include) },
    { name: 'exclude-filter', value: filterParameter(s.exclude) },
    ...(s.tempTableRegex ? [{ name: 'temp-table-regex', value: s.tempTableRegex }] : []),
    { name: 'use-source-schema-filtering', value: s.sourceLevelFiltering },
    { name: 'use-jdbc-internal-methods', value: s.jdbcInternalMethods },
    { name: 'credential-guid', value: guid },
    { name: 'connection', value: JSON.stringify({ typeName: 'Connection', attributes: connectionAttributes(s, credential.guid), guid: placeholderGuid(epoch) }) },
    { name: 'publish-mode', value: 'production' },
  ];
  const atlanName = `${ATLAN_PACKAGES.postgres.prefix}-default-${ATLAN_CONNECTOR_TYPE}-${epoch}`;
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
        [`orchestration.atlan.com/default-postgres-${epoch}`]: 'true',
        'orchestration.atlan.com/atlan-ui': 'true',
        'orchestration.atlan.com/dependentPackage': '',
      },
      annotations: {
        'orchestration.atlan.com/allowSchedule': 'true',
        'orchestration.atlan.com/categories': 'postgres,crawler',
        'orchestration.atlan.com/dependentPackage': '',
        'orchestration.atlan.com/docsUrl': 'https://ask.atlan.com/hc/en-us/articles/6329557275793',
        'orchestration.atlan.com/emoji': '\u{1F680}',
        'orchestration.atlan.com/icon': LOGO,
        'orchestration.atlan.com/logo': LOGO,
        'orchestration.atlan.com/marketplaceLink': 'https://packages.atlan.com/-/web/detail/@atlan/postgres',
        'orchestration.atlan.com/name': 'Postgres Assets',
        'package.argoproj.io/author': 'Atlan',
        'package.argoproj.io/description': 'Package to crawl PostgreSQL assets and publish to Atlan for discovery',
        'package.argoproj.io/homepage': 'https://packages.atlan.com/-/web/detail/@atlan/postgres',
        'package.argoproj.io/keywords': '["postgres","database","sql","connector","crawler"]',
        'package.argoproj.io/name': ATLAN_PACKAGES.postgres.name,
        'package.argoproj.io/registry': 'https://packages.atlan.com',
        'package.argoproj.io/repository': 'https://github.com/atlanhq/marketplace-packages.git',
        'package.argoproj.io/support': 'support@atlan.com',
        'orchestration.atlan.com/atlanName': atlanName,
      },
    },
    spec: {
      entrypoint: 'main',
      templates: [
        {
          name: 'main',
          dag: { tasks: [{ name: 'run', arguments: { parameters }, templateRef: { name: ATLAN_PACKAGES.postgres.prefix, template: 'main', clusterScope: true } }] },
        },
      ],
      workflowMetadata: { annotations: { 'package.argoproj.io/name': ATLAN_PACKAGES.postgres.name } },
    },
    payload: credential.inline ? [{ parameter: 'credentialGuid', type: 'credential', body: credential.inline }] : [],
  };
}

/** `spec.templates[*].dag.tasks[0].arguments.parameters` by name. */
export function workflowParameters(spec: unknown): Map<string, unknown> {
  const templates = isObject(spec) && Array.isArray(spec.templates) ? spec.templates : [];
  const main = templates.find((t: unknown) => isObject(t) && isObject(t.dag)) as Record<string, any> | undefined;
  const task = Array.isArray(main?.dag?.tasks) ? main!.dag.tasks[0] : undefined;
  const list = isObject(task) && isObject(task.arguments) && Array.isArray(task.arguments.parameters) ? task.arguments.parameters : [];
  const parameters = new Map<string, unknown>();
  for (const p of list) if (isObject(p) && typeof p.name === 'string') parameters.set(p.name, p.value);
  return parameters;
}

/** The Connection entity a parameter or input holds (a JSON string or an object). */
function connectionEntity(value: unknown): Record<string, any> | undefined {
  let entity = value;
  if (typeof value === 'string') {
    try {
      entity = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  return isObject(entity) && isObject(entity.attributes) ? (entity.attributes as Record<string, any>) : undefined;
}

const flag = (value: unknown, fallback: boolean): boolean => (value === undefined || value === null || value === '' ? fallback : value === true || value === 'true');
const strings = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : []);

/** A crawler's settings, as a legacy template's parameters (or an App's inputs) hold them; undefined if it is no Postgres crawler. */
export function readSettings(values: { get(key: string): unknown }, keys: 'legacy' | 'app'): { settings: PostgresCrawlerSettings; credentialGuid: string | undefined } | undefined {
  const k = (legacy: string) => (keys === 'legacy' ? legacy : legacy.replace(/-/g, '_'));
  const connection = connectionEntity(values.get('connection'));
  if (!connection || typeof connection.name !== 'string' || typeof connection.qualifiedName !== 'string') return undefined;
  const extraction = values.get(k('extraction-method')) ?? 'direct';
  const source: CrawlSource =
    extraction === 's3'
      ? {
          extraction: 's3',
          bucket: String(values.get('metadata-s3-bucket') ?? ''),
          prefix: String(values.get('metadata-s3-prefix') ?? ''),
          ...(values.get('metadata-s3-region') ? { region: String(values.get('metadata-s3-region')) } : {}),
        }
      : { extraction: 'direct' };
  const guid = values.get(k('credential-guid'));
  const regex = values.get(k('temp-table-regex'));
  return {
    settings: {
      connectionName: connection.name,
      connectionQualifiedName: connection.qualifiedName,
      adminRoles: strings(connection.adminRoles),
      adminGroups: strings(connection.adminGroups),
      adminUsers: strings(connection.adminUsers),
      rowLimit: typeof connection.rowLimit === 'number' ? connection.rowLimit : 10000,
      allowQuery: flag(connection.allowQuery, true),
      allowQueryPreview: flag(connection.allowQueryPreview, true),
      source,
      include: parseFilter(values.get(k('include-filter'))),
      exclude: parseFilter(values.get(k('exclude-filter'))),
      ...(typeof regex === 'string' && regex ? { tempTableRegex: regex } : {}),
      sourceLevelFiltering: flag(values.get(k('use-source-schema-filtering')), false),
      jdbcInternalMethods: flag(values.get(k('use-jdbc-internal-methods')), true),
    },
    credentialGuid: typeof guid === 'string' && guid !== '' && guid !== CREDENTIAL_PLACEHOLDER ? guid : undefined,
  };
}

/**
 * The inputs of the App API's `postgres-crawler` (snake_case keys, flags as strings), as pyatlan's
 * App builder assembles them: a raw `credential` on create (stored server-side), or the stored
 * credential's guid.
 */
export function postgresAppInputs(s: PostgresCrawlerSettings, credential: { raw?: AtlanCredential; guid?: string }): Record<string, unknown> {
  const { defaultCredentialGuid: _placeholder, ...attributes } = connectionAttributes(s, credential.guid);
  return {
    connection: { typeName: 'Connection', attributes: { ...attributes, ...(credential.guid ? { defaultCredentialGuid: credential.guid } : {}) } },
    extraction_method: s.source.extraction,
    ...(credential.raw ? { credential: { ...credential.raw, connectorType: ATLAN_CONNECTOR_TYPE } } : {}),
    credential_guid: credential.guid ?? '',
    include_filter: JSON.stringify(s.include),
    exclude_filter: JSON.stringify(s.exclude),
    temp_table_regex: s.tempTableRegex ?? '',
    advanced_config: 'default',
    use_source_schema_filtering: String(s.sourceLevelFiltering),
    control_config_strategy: 'default',
    control_config: '{}',
    use_jdbc_internal_methods: String(s.jdbcInternalMethods),
  };
}

/** How a direct crawl logs in to Postgres. */
export type PostgresAuth =
  | { readonly type: 'basic'; readonly username: string; readonly password: string }
  | { readonly type: 'iam-user'; readonly username: string; readonly accessKeyId: string; readonly secretAccessKey: string }
  | { readonly type: 'iam-role'; readonly username: string; readonly roleArn: string; readonly externalId: string };

/** A direct crawl's credential body per auth type, as pyatlan's `basic_auth`, `iam_user_auth` and `iam_role_auth` fill it (§2.6). */
export function postgresCredential(name: string, target: { host: string; port: number; database: string }, auth: PostgresAuth): AtlanCredential {
  const common = { name, host: target.host, port: target.port, connectorConfigName: ATLAN_CONNECTOR_CONFIG_NAME };
  switch (auth.type) {
    case 'basic':
      return { ...common, authType: 'basic', username: auth.username, password: auth.password, extra: { database: target.database } };
    case 'iam-user':
      return { ...common, authType: 'iam_user', connectorType: 'jdbc', username: auth.accessKeyId, password: auth.secretAccessKey, extra: { database: target.database, username: auth.username } };
    case 'iam-role':
      return { ...common, authType: 'iam_role', connectorType: 'jdbc', extra: { database: target.database, username: auth.username, aws_role_arn: auth.roleArn, aws_external_id: auth.externalId } };
  }
}

/** Whether two crawler settings say the same; the names of the fields that differ. */
export function settingsDiff(a: PostgresCrawlerSettings, b: PostgresCrawlerSettings): Array<keyof PostgresCrawlerSettings> {
  const same = (x: unknown, y: unknown) => JSON.stringify(x) === JSON.stringify(y);
  const sorted = (x: readonly string[]) => [...x].sort();
  const diff: Array<keyof PostgresCrawlerSettings> = [];
  if (a.connectionName !== b.connectionName) diff.push('connectionName');
  if (a.connectionQualifiedName !== b.connectionQualifiedName) diff.push('connectionQualifiedName');
  for (const key of ['adminRoles', 'adminGroups', 'adminUsers'] as const) if (!same(sorted(a[key]), sorted(b[key]))) diff.push(key);
  for (const key of ['rowLimit', 'allowQuery', 'allowQueryPreview', 'sourceLevelFiltering', 'jdbcInternalMethods'] as const) if (a[key] !== b[key]) diff.push(key);
  if (!same({ region: undefined, ...a.source }, { region: undefined, ...b.source })) diff.push('source');
  if (!sameFilter(a.include, b.include)) diff.push('include');
  if (!sameFilter(a.exclude, b.exclude)) diff.push('exclude');
  if ((a.tempTableRegex ?? '') !== (b.tempTableRegex ?? '')) diff.push('tempTableRegex');
  return diff;
}

/** The connection-delete package's workflow (pyatlan's `ConnectionDelete`). */
export function connectionDeleteWorkflow(epoch: number, qualifiedName: string, purge: boolean): Record<string, unknown> {
  const prefix = ATLAN_PACKAGES.connectionDelete.prefix;
  return {
    metadata: {
      name: `${prefix}-${epoch}`,
      namespace: 'default',
      labels: { 'orchestration.atlan.com/type': 'utility', 'package.argoproj.io/name': 'a-t-ratlans-l-a-s-hconnection-delete' },
      annotations: { 'package.argoproj.io/name': ATLAN_PACKAGES.connectionDelete.name, 'orchestration.atlan.com/atlanName': `${prefix}-${epoch}` },
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
                templateRef: { name: prefix, template: 'main', clusterScope: true },
              },
            ],
          },
        },
      ],
      workflowMetadata: { annotations: { 'package.argoproj.io/name': ATLAN_PACKAGES.connectionDelete.name } },
    },
    payload: [],
  };
}

/** A credential's fields that can be read back (no secrets), for comparison. */
export function credentialFingerprint(c: Partial<AtlanCredential> | undefined): string {
  if (!c) return '';
  const extra = (c.extra ?? {}) as Record<string, unknown>;
  return JSON.stringify([c.host ?? null, c.port ?? null, c.authType ?? null, c.username ?? null, extra.database ?? null, extra.username ?? null, extra.aws_role_arn ?? null, extra.aws_external_id ?? null]);
}

/** A JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

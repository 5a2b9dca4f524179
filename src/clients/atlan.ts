/**
 * The Atlan client for the Postgres crawler, on the shared client base (json-api.ts): an API key
 * as a bearer token, Atlan's error body, and both workflow APIs a tenant may serve:
 *
 * - the legacy package workflows (`/api/service/workflows`, `package-workflows` for callers
 *   without an admin or API-token role, `runs`), whose WorkflowTemplate JSON this module builds as
 *   pyatlan's `PostgresCrawler(...).to_workflow()` does and reads back;
 * - the App API (`/api/service/v1/app`, app `postgres-crawler`), whose inputs it builds likewise.
 *
 * Besides: the directory (role names such as `$admin` to ids, group aliases to names, usernames
 * checked), credentials (create, read, rotate, purge), Atlas search (connections by name and
 * connector, assets under a connection), and the connection-delete package.
 *
 * Retries: searches and reads are POSTs here, so the client retries by default; the calls that
 * start something unnamed (create-and-run, rerun, App create and submit, a new credential) are
 * marked RETRY_ONLY_IF_NOT_DONE: a 5xx after the server took them is never sent again blindly.
 */
import { VERSION as version } from '../version';
import {
  ATLAN_CONNECTOR_CONFIG_NAME,
  ATLAN_CONNECTOR_TYPE,
  ATLAN_PACKAGES,
  ATLAN_PATHS,
  ATLAN_POSTGRES_APP,
  ATLAN_TERMINAL_APP_RUN_STATUSES,
  ATLAN_TERMINAL_RUN_PHASES,
  ATLAN_WORKFLOW_ROLES,
  type AtlanAuthType,
} from '../services/atlan';
import { ApiError, type ApiErrorInit, type ParsedErrorBody } from './errors';
import { RETRY_IDEMPOTENT, RETRY_ONLY_IF_NOT_DONE, type RetryTiming } from './http';
import { JsonApi, type HttpMethod, type CallOptions } from './json-api';
import { bearerToken } from './oauth';

export interface AtlanConnection {
  /** The tenant's URL with no path, e.g. `https://acme.atlan.com`. */
  readonly baseUrl: string;
  readonly apiKey: string;
}

export interface AtlanClientOptions {
  readonly timing?: RetryTiming;
  /** Per request: how long to wait for an answer. @default 60000 */
  readonly timeoutMs?: number;
  readonly log?: (message: string) => void;
  readonly signal?: AbortSignal;
}

// ================================================================ errors

/** Where the parser leaves the whole body for {@link AtlanApiError} (taken out before the message is built). */
const RAW_BODY = 'atlanErrorBody';

/**
 * An Atlan error answer: the HTTP status, Atlan's `errorCode`, and the body as it came (the App
 * API's 409s carry the existing workflow's `slug` or the active run's `run_id`).
 */
export class AtlanApiError extends ApiError {
  override name = 'AtlanApiError';
  readonly errorCode: string | number | undefined;
  readonly body: Readonly<Record<string, unknown>>;

  constructor(init: ApiErrorInit) {
    const { [RAW_BODY]: raw, errorCode, ...details } = (init.details ?? {}) as Record<string, unknown>;
    // Atlan's code is usually the status again; one of its own (the App API's 1003) is worth showing.
    super({ ...init, details: errorCode !== undefined && String(errorCode) !== String(init.status) ? { errorCode, ...details } : details });
    this.errorCode = errorCode as string | number | undefined;
    this.body = isObject(raw) ? raw : {};
  }

  /** The App API's duplicate-name 409: the live workflow's slug. */
  get existingSlug(): string | undefined {
    return typeof this.body.slug === 'string' && this.status === 409 ? this.body.slug : undefined;
  }

  /** The App API's busy-submit 409: the active run's id. */
  get activeRunId(): string | undefined {
    return typeof this.body.run_id === 'string' && this.status === 409 ? this.body.run_id : undefined;
  }
}

/**
 * Atlan's error body: Heracles and Atlas answer `{errorCode, errorMessage, causes, errorId, doc}`;
 * pyatlan also accepts `code`/`status` and `message`, which the App API uses.
 */
export function parseAtlanError(body: unknown): ParsedErrorBody | undefined {
  if (!isObject(body)) return undefined;
  const message = [body.errorMessage, body.message, body.error_description, body.error].find((m): m is string => typeof m === 'string' && m.length > 0);
  const code = body.errorCode ?? body.code;
  return {
    message,
    details: {
      errorCode: typeof code === 'string' || typeof code === 'number' ? code : undefined,
      [RAW_BODY]: body,
    },
  };
}

/** Whether an error leaves it open that the server carried the request out (a 5xx, a lost answer). */
export function mayHaveCommitted(err: unknown): boolean {
  const e = err as { name?: string; status?: number } | undefined;
  if (e?.name === 'LostResponseError') return true;
  return err instanceof ApiError && err.status >= 500;
}

const notFound = (err: unknown): boolean => err instanceof ApiError && err.status === 404;

// ================================================================ wire shapes

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

// ================================================================ the client

const SERVICE = ATLAN_PATHS.service;
const META = ATLAN_PATHS.meta;
const PAGE = 100;

/** An ES search of the workflow or run index. */
interface EsResponse<S> {
  readonly hits?: { readonly total?: { readonly value?: number }; readonly hits?: ReadonlyArray<{ readonly _id: string; readonly _source: S }> };
}

interface RunSource {
  readonly metadata?: { readonly name?: string; readonly labels?: Record<string, string> };
  readonly spec?: { readonly workflowTemplateRef?: { readonly name?: string } };
  readonly status?: { readonly phase?: string; readonly message?: string; readonly startedAt?: string; readonly finishedAt?: string | null; readonly storedWorkflowTemplateSpec?: unknown };
}

const templateTerm = (template: string) => ({ nested: { path: 'spec', query: { term: { 'spec.workflowTemplateRef.name.keyword': { value: template } } } } });
const newestFirst = [{ 'metadata.creationTimestamp': { order: 'desc', nested: { path: 'metadata' } } }];

export class AtlanClient {
  private readonly api: JsonApi;
  private prefix?: Promise<'workflows' | 'package-workflows'>;
  private roleList?: Promise<AtlanRole[]>;

  constructor(
    readonly connection: AtlanConnection,
    options: AtlanClientOptions = {},
  ) {
    this.api = new JsonApi({
      service: 'Atlan',
      baseUrl: connection.baseUrl.replace(/\/+$/, ''),
      headers: { 'user-agent': `pgstacks/${version}`, 'x-atlan-agent': 'sdk', 'x-atlan-agent-id': 'pgstacks' },
      auth: bearerToken(connection.apiKey),
      // Most POSTs here are searches; the calls that start something are marked one by one.
      retry: RETRY_IDEMPOTENT,
      timing: options.timing,
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      log: options.log,
      parseError: parseAtlanError,
      createError: (init) => new AtlanApiError(init),
    });
  }

  private service<T = unknown>(method: HttpMethod, path: string, options?: CallOptions): Promise<T> {
    return this.api.call<T>(method, `${SERVICE}${path}`, options);
  }

  /** The answer, or `undefined` for a 404. */
  private async optional<T>(call: Promise<T>): Promise<T | undefined> {
    try {
      return await call;
    } catch (err) {
      if (notFound(err)) return undefined;
      throw err;
    }
  }

  // ---------------------------------------------------------------- which API

  /** Whether the tenant serves the App API's `postgres-crawler` (a 404 means it does not). */
  async servesAppApi(): Promise<boolean> {
    return (await this.optional(this.service('GET', `/v1/apps/${ATLAN_POSTGRES_APP.appId}`))) !== undefined;
  }

  /** Whether the tenant serves the legacy workflow API (a 404 means it does not). */
  async servesWorkflowApi(): Promise<boolean> {
    return (await this.optional(this.service('POST', '/workflows/indexsearch', { body: { from: 0, size: 0, query: { match_none: {} } } }))) !== undefined;
  }

  // ---------------------------------------------------------------- directory

  /** The caller (`GET whoami`): its username and role names. */
  async whoami(): Promise<{ username?: string; roles: string[] }> {
    const me = await this.service<{ username?: string; roles?: Array<{ name?: string }> }>('GET', '/whoami');
    return { username: me.username, roles: (me.roles ?? []).map((r) => String(r.name)) };
  }

  /**
   * `workflows` for callers with `$admin` or `$api-token-default-access`, `package-workflows` for
   * everyone else ("sub-role" callers), as the official clients decide before every change.
   */
  workflowPrefix(): Promise<'workflows' | 'package-workflows'> {
    this.prefix ??= this.whoami().then((me) => (me.roles.some((r) => (ATLAN_WORKFLOW_ROLES as readonly string[]).includes(r)) ? 'workflows' : 'package-workflows'));
    this.prefix.catch(() => (this.prefix = undefined));
    return this.prefix;
  }

  /** Every workspace role (`$admin`, `$member`, ...), with its id. */
  roles(): Promise<AtlanRole[]> {
    this.roleList ??= this.pagedRecords<AtlanRole>('/roles', { count: 'true', filter: JSON.stringify({ name: { $ilike: '$%' } }) });
    this.roleList.catch(() => (this.roleList = undefined));
    return this.roleList;
  }

  groups(): Promise<AtlanGroup[]> {
    return this.pagedRecords<AtlanGroup>('/v2/groups', { sort: 'name', count: 'true' });
  }

  /** Users whose username is one of `usernames`. */
  usersNamed(usernames: readonly string[]): Promise<AtlanUser[]> {
    return this.pagedRecords<AtlanUser>('/users', { sort: 'username', count: 'true', filter: JSON.stringify({ username: { $in: usernames } }) });
  }

  /** API keys whose service account or client id is one of `names`. */
  async apiKeysNamed(names: readonly string[]): Promise<Array<{ clientId: string; username?: string }>> {
    const keys = await this.pagedRecords<{ clientId: string; username?: string }>('/apikeys', { count: 'true' });
    return keys.filter((k) => names.includes(k.clientId) || (k.username !== undefined && names.includes(k.username)));
  }

  /**
   * A connection's admins on the wire: role names (`$admin`) become role ids (ids pass too), group
   * aliases (`Admins`) become internal names, usernames are checked to exist (users or API keys).
   * Anything unknown is an error naming what the tenant has.
   */
  async resolveAdmins(admins: { roles?: readonly string[]; groups?: readonly string[]; users?: readonly string[] }): Promise<{ adminRoles: string[]; adminGroups: string[]; adminUsers: string[] }> {
    const adminRoles: string[] = [];
    if (admins.roles?.length) {
      const roles = await this.roles();
      for (const wanted of admins.roles) {
        const role = roles.find((r) => r.name === wanted || r.id === wanted);
        if (!role) throw new Error(`Atlan has no workspace role '${wanted}' (it has ${roles.map((r) => r.name).join(', ')}); name one of those in admins.roles`);
        adminRoles.push(role.id);
      }
    }
    const adminGroups: string[] = [];
    if (admins.groups?.length) {
      const groups = await this.groups();
      for (const wanted of admins.groups) {
        const group = groups.find((g) => g.name === wanted) ?? groups.find((g) => g.alias === wanted || g.id === wanted);
        if (!group) throw new Error(`Atlan has no group '${wanted}' (it has ${groups.map((g) => `${g.name}${g.alias ? ` (${g.alias})` : ''}`).join(', ') || 'none'}); name one of those in admins.groups`);
        adminGroups.push(group.name);
      }
    }
    const adminUsers = [...(admins.users ?? [])];
    if (adminUsers.length) {
      const users = new Set((await this.usersNamed(adminUsers)).map((u) => u.username));
      const rest = adminUsers.filter((u) => !users.has(u));
      const keys = rest.length ? await this.apiKeysNamed(rest) : [];
      const missing = rest.filter((u) => !keys.some((k) => k.clientId === u || k.username === u));
      if (missing.length) throw new Error(`Atlan has no user named ${missing.map((u) => `'${u}'`).join(', ')}; admins.users takes usernames (or an API key's service account)`);
    }
    return { adminRoles, adminGroups, adminUsers };
  }

  private async pagedRecords<T>(path: string, query: Record<string, string>): Promise<T[]> {
    const all: T[] = [];
    for (let offset = 0; ; offset += PAGE) {
      const page = await this.service<{ records?: T[]; filterRecord?: number }>('GET', path, { query: { ...query, offset, limit: PAGE } });
      const records = page.records ?? [];
      all.push(...records);
      if (records.length < PAGE || (page.filterRecord !== undefined && all.length >= page.filterRecord)) return all;
    }
  }

  // ---------------------------------------------------------------- credentials

  async getCredential(guid: string): Promise<AtlanCredential | undefined> {
    return this.optional(this.service<AtlanCredential>('GET', `/credentials/${encodeURIComponent(guid)}`));
  }

  /** Credentials named `name` (the SDKs find a workflow's credential so). */
  async credentialsNamed(name: string): Promise<AtlanCredential[]> {
    const page = await this.service<{ records?: AtlanCredential[] }>('GET', '/credentials', { query: { filter: JSON.stringify({ name }), limit: PAGE, offset: 0 } });
    return page.records ?? [];
  }

  /** Stores a new credential (untested: the crawl's run reports what is wrong with it); returns it with its guid. */
  createCredential(body: AtlanCredential): Promise<AtlanCredential & { id: string }> {
    return this.service('POST', '/credentials', { query: { testCredential: 'false' }, body, retry: RETRY_ONLY_IF_NOT_DONE });
  }

  /** Replaces a credential's body (the rotation path); a missing password keeps the stored one. */
  updateCredential(guid: string, body: AtlanCredential): Promise<AtlanCredential> {
    return this.service('POST', `/credentials/${encodeURIComponent(guid)}`, { body: { ...body, id: guid } });
  }

  /** Deletes a credential for good; false if it was gone already. */
  async purgeCredential(guid: string): Promise<boolean> {
    return (await this.optional(this.service('POST', `/credentials/${encodeURIComponent(guid)}/archive`))) !== undefined;
  }

  // ---------------------------------------------------------------- legacy workflows

  private async searchTemplates(body: Record<string, unknown>): Promise<WorkflowTemplate[]> {
    const res = await this.service<EsResponse<WorkflowTemplate>>('POST', '/workflows/indexsearch', { body });
    return (res.hits?.hits ?? []).map((h) => h._source);
  }

  /** The live template named `name`, or undefined. */
  async getWorkflow(name: string): Promise<WorkflowTemplate | undefined> {
    const [found] = await this.searchTemplates({
      from: 0,
      size: 1,
      query: { bool: { filter: [{ nested: { path: 'metadata', query: { term: { 'metadata.name.keyword': { value: name } } } } }] } },
    });
    return found?.metadata?.name === name ? found : undefined;
  }

  /** Every live template of a package (`atlan-postgres-<10 digits>`, as `find_by_type` asks), newest first, all pages. */
  async workflowsOfPackage(prefix: string): Promise<WorkflowTemplate[]> {
    const all: WorkflowTemplate[] = [];
    for (let from = 0; ; from += PAGE) {
      const page = await this.searchTemplates({
        from,
        size: PAGE,
        track_total_hits: true,
        query: { bool: { filter: [{ nested: { path: 'metadata', query: { regexp: { 'metadata.name.keyword': { value: `${prefix.replace(/-/g, '[-]')}[-][0-9]{10}` } } } } }] } },
        sort: newestFirst,
      });
      all.push(...page);
      if (page.length < PAGE) return all;
    }
  }

  /** Creates a template (and with `submit`, runs it). Never retried after the server may have taken it. */
  async createWorkflow(body: unknown, submit: boolean): Promise<WorkflowTemplate & { payload?: unknown }> {
    const prefix = await this.workflowPrefix();
    return this.service('POST', `/${prefix}`, { query: { submit: String(submit) }, body, retry: RETRY_ONLY_IF_NOT_DONE });
  }

  /** Replaces a template (same name): `{metadata, spec}`. */
  async updateWorkflow(name: string, body: unknown): Promise<WorkflowTemplate> {
    const prefix = await this.workflowPrefix();
    return this.service('POST', `/${prefix}/${encodeURIComponent(name)}`, { body });
  }

  /** Starts a new run of a template. Never retried after the server may have taken it. */
  async rerunWorkflow(name: string): Promise<AtlanRun> {
    const prefix = await this.workflowPrefix();
    const source = await this.service<RunSource>('POST', `/${prefix}/submit`, {
      body: { namespace: 'default', resourceKind: 'WorkflowTemplate', resourceName: name },
      retry: RETRY_ONLY_IF_NOT_DONE,
    });
    return legacyRun(source, name);
  }

  /** Archives (deletes) a template; false if it was gone already. */
  async archiveWorkflow(name: string): Promise<boolean> {
    const prefix = await this.workflowPrefix();
    return (await this.optional(this.service('POST', `/${prefix}/${encodeURIComponent(name)}/archive`))) !== undefined;
  }

  private async searchRuns(body: Record<string, unknown>): Promise<AtlanRun[]> {
    const res = await this.service<EsResponse<RunSource>>('POST', '/runs/indexsearch', { body });
    return (res.hits?.hits ?? []).map((h) => legacyRun(h._source, h._id));
  }

  /** A legacy run by name, or undefined (not in the index, yet or any more). */
  async getRun(name: string): Promise<AtlanRun | undefined> {
    const [run] = await this.searchRuns({ from: 0, size: 1, query: { bool: { filter: [{ term: { _id: { value: name } } }] } } });
    return run;
  }

  /** A template's runs, newest first (at most `size`). */
  runsOf(template: string, size = 50): Promise<AtlanRun[]> {
    return this.searchRuns({ from: 0, size, query: { bool: { filter: [templateTerm(template)] } }, sort: newestFirst });
  }

  /** Asks a legacy run to stop (it ends Failed shortly after). */
  async stopRun(name: string): Promise<void> {
    await this.optional(this.service('POST', `/runs/${encodeURIComponent(name)}/stop`));
  }

  // ---------------------------------------------------------------- App API

  async getApp(slug: string): Promise<AppWorkflow | undefined> {
    return this.optional(this.service<AppWorkflow>('GET', `/v1/app/${encodeURIComponent(slug)}`));
  }

  /** App workflows (of every app), all pages; only those named `name` when given. */
  async listApps(name?: string): Promise<AppWorkflow[]> {
    const all: AppWorkflow[] = [];
    const seen = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await this.service<{ workflows?: AppWorkflow[]; has_more?: boolean; next_cursor?: string | null }>('GET', '/v1/app', { query: { name, limit: PAGE, cursor } });
      all.push(...(page.workflows ?? []));
      cursor = page.has_more && page.next_cursor ? page.next_cursor : undefined;
      if (cursor && seen.has(cursor)) throw new Error(`GET ${SERVICE}/v1/app: Atlan returned the cursor '${cursor}' twice`);
      if (cursor) seen.add(cursor);
    } while (cursor);
    return all;
  }

  /** Creates an App workflow of `postgres-crawler` (and runs it unless `run` is false). A live name is a 409 carrying its slug. */
  createApp(name: string, inputs: Record<string, unknown>, run: boolean): Promise<{ slug: string; version?: number; run_id?: string }> {
    return this.service('POST', '/v1/app', {
      body: { app_id: ATLAN_POSTGRES_APP.appId, name, entrypoint: ATLAN_POSTGRES_APP.entrypoint, inputs, run },
      retry: RETRY_ONLY_IF_NOT_DONE,
    });
  }

  /** Replaces an App workflow's inputs (without a raw credential, the stored one stays). */
  updateApp(slug: string, inputs: Record<string, unknown>): Promise<{ slug: string; version?: number }> {
    return this.service('PUT', `/v1/app/${encodeURIComponent(slug)}`, { body: { inputs, entrypoint: ATLAN_POSTGRES_APP.entrypoint } });
  }

  /** Starts a run; while one is active the tenant answers 409 naming it (AtlanApiError.activeRunId). */
  async submitApp(slug: string): Promise<AtlanRun> {
    return appRun(await this.service('POST', `/v1/app/${encodeURIComponent(slug)}/submit`, { retry: RETRY_ONLY_IF_NOT_DONE }));
  }

  async getAppRun(id: string): Promise<AtlanRun | undefined> {
    const run = await this.optional(this.service('GET', `/v1/app/runs/${encodeURIComponent(id)}`));
    return run === undefined ? undefined : appRun(run);
  }

  async cancelAppRun(id: string): Promise<void> {
    await this.optional(this.service('POST', `/v1/app/runs/${encodeURIComponent(id)}/cancel`));
  }

  /** Deletes (archives) an App workflow; false if it was gone already. */
  async deleteApp(slug: string): Promise<boolean> {
    return (await this.optional(this.service('DELETE', `/v1/app/${encodeURIComponent(slug)}`))) !== undefined;
  }

  // ---------------------------------------------------------------- Atlas

  /** Atlas index search: the entities of one page. */
  async searchAssets(dsl: Record<string, unknown>, attributes: readonly string[] = ['qualifiedName', 'name']): Promise<{ entities: AtlanAsset[]; approximateCount: number }> {
    const res = await this.api.call<{ entities?: AtlanAsset[]; approximateCount?: number }>('POST', `${META}/search/indexsearch`, {
      body: { dsl, attributes, relationAttributes: ['name'], requestMetadata: { saveSearchLog: false, utmTags: ['project_sdk_pgstacks'] } },
    });
    return { entities: res.entities ?? [], approximateCount: res.approximateCount ?? 0 };
  }

  /** Active Postgres connections named `name` (exact match), as `find_connections_by_name` asks. */
  async findConnections(name: string): Promise<AtlanAsset[]> {
    const { entities } = await this.searchAssets(
      {
        from: 0,
        size: 300,
        track_total_hits: true,
        query: {
          bool: {
            filter: [
              { term: { __state: { value: 'ACTIVE' } } },
              { term: { '__typeName.keyword': { value: 'Connection' } } },
              { term: { 'name.keyword': { value: name } } },
              { term: { connectorName: { value: ATLAN_CONNECTOR_TYPE } } },
            ],
          },
        },
      },
      ['qualifiedName', 'name', 'connectorName', 'defaultCredentialGuid'],
    );
    return entities;
  }

  /** The Connection with this qualified name, if it is active. */
  async getConnection(qualifiedName: string): Promise<AtlanAsset | undefined> {
    const { entities } = await this.searchAssets({
      from: 0,
      size: 1,
      query: { bool: { filter: [{ term: { __state: { value: 'ACTIVE' } } }, { term: { '__typeName.keyword': { value: 'Connection' } } }, { term: { 'qualifiedName.keyword': { value: qualifiedName } } }] } },
    });
    return entities[0];
  }

  // ---------------------------------------------------------------- connection-delete

  /**
   * Starts the connection-delete package for a connection (soft unless `purge`), on the legacy
   * workflow API (the App API has no such app). Its workflow is named after the connection's
   * epoch, so a repeat finds the one already made instead of making a second.
   */
  async deleteConnection(qualifiedName: string, purge: boolean): Promise<{ workflow: string; run: AtlanRun | undefined }> {
    const epoch = epochOf(qualifiedName) ?? Math.floor(Date.now() / 1000);
    const workflow = `${ATLAN_PACKAGES.connectionDelete.prefix}-${epoch}`;
    try {
      await this.createWorkflow(connectionDeleteWorkflow(epoch, qualifiedName, purge), true);
      return { workflow, run: undefined };
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 409)) throw err;
      // Made before (an interrupted destroy): run it again unless it is running.
      const [latest] = await this.runsOf(workflow, 1);
      if (latest && isRunActive(latest)) return { workflow, run: latest };
      return { workflow, run: await this.rerunWorkflow(workflow) };
    }
  }
}

/** A legacy run from the runs index (or an answer shaped like one). */
function legacyRun(source: RunSource, id: string): AtlanRun {
  const status = source.status ?? {};
  const stored = status.storedWorkflowTemplateSpec;
  return {
    id: source.metadata?.name ?? id,
    phase: status.phase ?? source.metadata?.labels?.['workflows.argoproj.io/phase'] ?? 'Pending',
    ...(status.message ? { message: status.message } : {}),
    workflow: source.spec?.workflowTemplateRef?.name ?? source.metadata?.labels?.['workflows.argoproj.io/workflow-template'] ?? '',
    ...(status.startedAt ? { startedAt: status.startedAt } : {}),
    ...(status.finishedAt ? { finishedAt: status.finishedAt } : {}),
    ...(stored ? { parameters: workflowParameters(stored) } : {}),
  };
}

/** An App run (`{run_id, slug, status, started_at, finished_at, message}`). */
function appRun(body: unknown): AtlanRun {
  const b = (isObject(body) ? body : {}) as Record<string, any>;
  return {
    id: String(b.run_id ?? ''),
    phase: String(b.status ?? 'Pending'),
    ...(typeof b.message === 'string' && b.message ? { message: b.message } : {}),
    workflow: String(b.slug ?? ''),
    ...(b.started_at ? { startedAt: String(b.started_at) } : {}),
    ...(b.finished_at ? { finishedAt: String(b.finished_at) } : {}),
  };
}

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

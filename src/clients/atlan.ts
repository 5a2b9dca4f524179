/**
 * The Atlan client for the Postgres crawler, on the shared client base (json-api.ts): an API key
 * as a bearer token, Atlan's error body, and both workflow APIs a tenant may serve:
 *
 * - the legacy package workflows (`/api/service/workflows`, `package-workflows` for callers
 *   without an admin or API-token role, `runs`), whose WorkflowTemplate JSON atlan-wire.ts builds
 *   as pyatlan's `PostgresCrawler(...).to_workflow()` does and reads back;
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
  ATLAN_CONNECTOR_TYPE,
  ATLAN_PACKAGES,
  ATLAN_PATHS,
  ATLAN_POSTGRES_APP,
  ATLAN_WORKFLOW_ROLES,
} from '../services/atlan';
import { ApiError, type ApiErrorInit, type ParsedErrorBody } from './errors';
import { RETRY_IDEMPOTENT, RETRY_ONLY_IF_NOT_DONE, type RetryTiming } from './http';
import { JsonApi, type HttpMethod, type CallOptions } from './json-api';
import { bearerToken } from './oauth';
import { connectionDeleteWorkflow, epochOf, isObject, isRunActive, workflowParameters, type AppWorkflow, type AtlanAsset, type AtlanCredential, type AtlanGroup, type AtlanRole, type AtlanRun, type AtlanUser, type WorkflowTemplate } from './atlan-wire';

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

// The wire shapes and builders live in atlan-wire.ts; the client re-exports them.
export * from './atlan-wire';

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

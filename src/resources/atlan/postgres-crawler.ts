/**
 * `atlan:postgres-crawler`: Atlan's Postgres crawler for one connection, as one workflow (a legacy
 * WorkflowTemplate `atlan-postgres-<epoch>`, or an App API workflow of `postgres-crawler`), one
 * credential and one Connection (`default/postgres/<epoch>`) for the construct's whole life.
 *
 * - Idempotency is the point. Atlan's SDKs make a new workflow, credential and connection on every
 *   create-and-run, so a re-run pipeline duplicates assets. Here the workflow is made once
 *   (physical id: its name, or the App slug); a changed spec updates it in place (same connection
 *   qualified name, the credential rotated in place) and runs it again; an unchanged spec submits
 *   nothing (`read` reports drift only for real differences).
 * - A run is awaited (progress lines, the resource's deadline, its id checkpointed so a killed or
 *   timed-out apply resumes waiting for the same run) and fails the deploy with Atlan's message.
 *   No run is started while one is Pending or Running: it is awaited instead (and, when it runs
 *   settings from before this change, followed by one with the current settings).
 * - The connection name is checkpointed before anything is submitted, so a crash (or a 5xx after
 *   the tenant took the submit) is recovered by finding the workflow, never by submitting again.
 * - Delete archives the workflow and purges the credential; the connection and its assets are
 *   deleted (the connection-delete package, soft) only with `deleteConnection`, which the
 *   construct sets from an explicit `RemovalPolicy.DESTROY`.
 * - A connection of the same name kept from an earlier crawler is crawled into again, rather than
 *   a second connection of that name made beside it.
 */
import * as z from 'zod';
import type { AtlanClient, AtlanCredential, AtlanRun, PostgresAuth, PostgresCrawlerSettings, WorkflowTemplate } from '../../clients/atlan';
import { awaitOperation } from '../../runtime/operations';
import { defineResourceType, type HandlerContext } from '../../runtime/resource-type';
import type { Json } from '../../runtime/spec';
import { atlanApi, atlanClient, tenantSchema, tenantUrl, type TenantProps } from './tenant';

// ================================================================ props

const nonEmpty = z.string().trim().min(1, 'must not be empty');
const names = z.array(nonEmpty).optional();

/** Who administers the connection: role names (`$admin`), group names, usernames; at least one. */
const adminsSchema = z
  .object({ roles: names, groups: names, users: names })
  .strict()
  .refine((a) => (a.roles?.length ?? 0) + (a.groups?.length ?? 0) + (a.users?.length ?? 0) > 0, {
    message: "a connection needs at least one admin: give admins.roles (e.g. ['$admin']), admins.groups (group names) or admins.users (usernames)",
  });

/** Database → schemas (`{ shop: ['sales', 'hr'] }`; an empty list: every schema of the database). */
const assetFilter = z.record(nonEmpty, z.array(nonEmpty)).optional();

const authSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('basic'), username: nonEmpty, password: z.string().min(1, 'must not be empty') }).strict(),
  z.object({ type: z.literal('iam-user'), username: nonEmpty, accessKeyId: nonEmpty, secretAccessKey: z.string().min(1, 'must not be empty') }).strict(),
  z
    .object({
      type: z.literal('iam-role'),
      username: nonEmpty,
      roleArn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, 'expected a role ARN, e.g. arn:aws:iam::123456789012:role/atlan-crawler'),
      externalId: nonEmpty,
    })
    .strict(),
]);

const sourceSchema = z.discriminatedUnion('extraction', [
  z
    .object({
      extraction: z.literal('direct'),
      host: nonEmpty,
      port: z.number().int().min(1, 'must be a port, 1-65535').max(65535, 'must be a port, 1-65535').default(5432),
      database: nonEmpty,
      auth: authSchema,
    })
    .strict(),
  z.object({ extraction: z.literal('s3'), bucket: nonEmpty, prefix: z.string(), region: nonEmpty.optional() }).strict(),
]);

/** A regular expression (the crawler's own is Java's; JavaScript's syntax is close enough to catch mistakes). */
const regex = z.string().superRefine((value, ctx) => {
  try {
    new RegExp(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `is not a valid regular expression (${(err as Error).message.replace(/^Invalid regular expression: /, '')}); e.g. '.*_TEST' skips tables and views whose names end in _TEST` });
  }
});

export const RUN_ON_DEPLOY = ['always', 'on-change', 'never'] as const;

export const postgresCrawlerSchema = z
  .object({
    tenant: tenantSchema,
    connectionName: nonEmpty,
    admins: adminsSchema,
    rowLimit: z.number().int().min(1, 'must be at least 1').default(10000),
    allowQuery: z.boolean().default(true),
    allowQueryPreview: z.boolean().default(true),
    source: sourceSchema,
    include: assetFilter,
    exclude: assetFilter,
    excludeRegex: regex.optional(),
    sourceLevelFiltering: z.boolean().default(false),
    jdbcInternalMethods: z.boolean().default(true),
    /** When a deploy runs the crawl: every deploy, when the spec changed (or the last run failed), or never. */
    runOnDeploy: z.enum(RUN_ON_DEPLOY, { error: `expected one of ${RUN_ON_DEPLOY.join(', ')}` }).default('on-change'),
    /** On delete, also delete the connection and its assets (the construct's explicit RemovalPolicy.DESTROY). */
    deleteConnection: z.boolean().default(false),
  })
  .strict();

export type PostgresCrawlerProps = z.infer<typeof postgresCrawlerSchema>;
export type PostgresCrawlerOutputs = {
  /** The API the crawler lives on: `workflow` (legacy) or `app`. */
  api: string;
  /** The legacy workflow's name, or the App workflow's slug (the physical id). */
  workflowName: string;
  connectionQualifiedName: string;
  /** `''` for offline extraction, which has none. */
  credentialGuid: string;
  /** The last run this stack started or awaited, and how it ended (`''` if none). */
  lastRunId: string;
  lastRunPhase: string;
};

/** Props whose change means nothing to Atlan: no update, no run. */
const LOCAL_PROPS = ['runOnDeploy', 'deleteConnection'];
const isCrawlRelevant = (path: string) => !LOCAL_PROPS.includes(path) && !path.startsWith('tenant.') && path !== 'tenant';

// ================================================================ what the tenant holds

type Api = 'workflow' | 'app';

/** A crawler as found on the tenant. */
interface Crawler {
  readonly api: Api;
  /** The physical id: the legacy workflow's name or the App slug. */
  readonly id: string;
  /** The App workflow's name (legacy: the workflow name). */
  readonly name: string;
  readonly settings: PostgresCrawlerSettings;
  readonly credentialGuid: string | undefined;
  /** Legacy: the template as stored (its annotations, e.g. a schedule, are kept on update). */
  readonly template?: WorkflowTemplate;
}

/** What `ctx.checkpoint` keeps between the submit and the record (and between a submit and the run's end). */
interface Recovery {
  readonly api?: Api;
  readonly connectionName?: string;
  readonly connectionQualifiedName?: string;
  /** The legacy workflow's name, or the App workflow's name (not its slug, which the tenant mints). */
  readonly workflow?: string;
  /** The run being awaited. */
  readonly run?: string;
}

function recoveryOf(ctx: Pick<HandlerContext, 'recovery'>): Recovery {
  const r = ctx.recovery;
  if (!r || typeof r !== 'object' || Array.isArray(r)) return {};
  const s = (key: string) => (typeof r[key] === 'string' && r[key] ? (r[key] as string) : undefined);
  const api = s('api');
  return { api: api === 'workflow' || api === 'app' ? api : undefined, connectionName: s('connectionName'), connectionQualifiedName: s('connectionQualifiedName'), workflow: s('workflow'), run: s('run') };
}

const checkpoint = (ctx: HandlerContext, data: Recovery) => ctx.checkpoint(JSON.parse(JSON.stringify(data)) as Json);

const LEGACY_NAME = /^atlan-postgres-\d+$/;

/** The API of an existing crawler: as recorded, else by the shape of its id. */
function apiOf(id: string, ctx: Pick<HandlerContext, 'recorded'>): Api {
  const recorded = ctx.recorded?.api;
  if (recorded === 'workflow' || recorded === 'app') return recorded;
  return LEGACY_NAME.test(id) ? 'workflow' : 'app';
}

function fromTemplate(template: WorkflowTemplate): Crawler | undefined {
  const read = atlanApi().readSettings(atlanApi().workflowParameters(template.spec), 'legacy');
  if (!read) return undefined;
  return { api: 'workflow', id: template.metadata.name, name: template.metadata.name, settings: read.settings, credentialGuid: read.credentialGuid, template };
}

function fromApp(app: { slug: string; name: string; app_id: string; inputs: Record<string, unknown> }): Crawler | undefined {
  if (app.app_id !== 'postgres-crawler') return undefined;
  const read = atlanApi().readSettings(new Map(Object.entries(app.inputs ?? {})), 'app');
  if (!read) return undefined;
  return { api: 'app', id: app.slug, name: app.name, settings: read.settings, credentialGuid: read.credentialGuid };
}

async function getCrawler(client: AtlanClient, api: Api, id: string): Promise<Crawler | undefined> {
  if (api === 'workflow') {
    const template = await client.getWorkflow(id);
    return template && fromTemplate(template);
  }
  const app = await client.getApp(id);
  return app && fromApp(app);
}

/** Crawlers of the given connection names, on the given APIs. */
async function crawlersOf(client: AtlanClient, apis: readonly Api[], connectionNames: readonly string[]): Promise<Crawler[]> {
  const found: Crawler[] = [];
  if (apis.includes('workflow')) {
    for (const t of await client.workflowsOfPackage('atlan-postgres')) {
      const c = fromTemplate(t);
      if (c && connectionNames.includes(c.settings.connectionName)) found.push(c);
    }
  }
  if (apis.includes('app')) {
    for (const app of await client.listApps()) {
      const c = fromApp(app);
      if (c && connectionNames.includes(c.settings.connectionName)) found.push(c);
    }
  }
  return found;
}

const describeCrawler = (c: Crawler) => (c.api === 'workflow' ? `workflow ${c.id}` : `App workflow '${c.name}' (${c.id})`);

/** The APIs the tenant serves, for `auto`; the chosen one otherwise. */
async function servedApis(client: AtlanClient, tenant: TenantProps): Promise<Api[]> {
  if (tenant.api !== 'auto') return [tenant.api];
  const [app, workflow] = await Promise.all([client.servesAppApi(), client.servesWorkflowApi()]);
  return [...(app ? (['app'] as const) : []), ...(workflow ? (['workflow'] as const) : [])];
}

/** The API a new crawler uses: App where served (offline extraction needs the legacy one). */
function chooseApi(props: PostgresCrawlerProps, served: readonly Api[]): Api {
  const s3 = props.source.extraction === 's3';
  if (props.tenant.api === 'app' && s3) throw new Error(`offline extraction from S3 needs the legacy workflow API (the App API's postgres-crawler has no S3 inputs): set the tenant's api to 'workflow' or 'auto'`);
  if (props.tenant.api !== 'auto') return props.tenant.api;
  if (served.includes('app') && !s3) return 'app';
  if (served.includes('workflow')) return 'workflow';
  if (s3) throw new Error(`offline extraction from S3 needs the legacy workflow API, and ${tenantUrl(props.tenant)} serves only the App API`);
  throw new Error(`${tenantUrl(props.tenant)} serves neither the App API (GET /api/service/v1/apps/postgres-crawler) nor the legacy workflow API (POST /api/service/workflows/indexsearch)`);
}

// ================================================================ what the props want

async function desiredSettings(client: AtlanClient, props: PostgresCrawlerProps, connectionQualifiedName: string): Promise<PostgresCrawlerSettings> {
  const admins = await client.resolveAdmins(props.admins);
  const { encodeFilter } = atlanApi();
  const source = props.source;
  return {
    connectionName: props.connectionName,
    connectionQualifiedName,
    ...admins,
    rowLimit: props.rowLimit,
    allowQuery: props.allowQuery,
    allowQueryPreview: props.allowQueryPreview,
    source: source.extraction === 's3' ? { extraction: 's3', bucket: source.bucket, prefix: source.prefix, ...(source.region ? { region: source.region } : {}) } : { extraction: 'direct' },
    include: encodeFilter(props.include),
    exclude: encodeFilter(props.exclude),
    ...(props.excludeRegex ? { tempTableRegex: props.excludeRegex } : {}),
    sourceLevelFiltering: props.sourceLevelFiltering,
    jdbcInternalMethods: props.jdbcInternalMethods,
  };
}

/** The credential a direct crawl needs (none for offline extraction). */
function credentialFor(props: PostgresCrawlerProps, name: string): AtlanCredential | undefined {
  const source = props.source;
  if (source.extraction !== 'direct') return undefined;
  return atlanApi().postgresCredential(name, { host: source.host, port: source.port, database: source.database }, source.auth as PostgresAuth);
}

/** Masks every secret of the props in log lines, whether it came as a secret or as plain text. */
function redactSecrets(props: PostgresCrawlerProps, ctx: Pick<HandlerContext, 'redact'>): void {
  ctx.redact(props.tenant.apiKey);
  const source = props.source;
  if (source.extraction !== 'direct') return;
  if (source.auth.type === 'basic') ctx.redact(source.auth.password);
  if (source.auth.type === 'iam-user') ctx.redact(source.auth.secretAccessKey);
}

/** Settings fields → the props they come from, for drift. */
const SETTING_PROPS: Record<keyof PostgresCrawlerSettings, string> = {
  connectionName: 'connectionName',
  connectionQualifiedName: 'connectionName',
  adminRoles: 'admins',
  adminGroups: 'admins',
  adminUsers: 'admins',
  rowLimit: 'rowLimit',
  allowQuery: 'allowQuery',
  allowQueryPreview: 'allowQueryPreview',
  source: 'source.extraction',
  include: 'include',
  exclude: 'exclude',
  tempTableRegex: 'excludeRegex',
  sourceLevelFiltering: 'sourceLevelFiltering',
  jdbcInternalMethods: 'jdbcInternalMethods',
};

/** Prop paths whose remote value differs from the props. */
async function driftOf(client: AtlanClient, crawler: Crawler, props: PostgresCrawlerProps): Promise<string[]> {
  const desired = await desiredSettings(client, props, crawler.settings.connectionQualifiedName);
  const drift = new Set<string>();
  for (const field of atlanApi().settingsDiff(crawler.settings, desired)) {
    if (field === 'source' && crawler.settings.source.extraction === 's3' && desired.source.extraction === 's3') {
      for (const key of ['bucket', 'prefix', 'region'] as const) if ((crawler.settings.source[key] ?? '') !== (desired.source[key] ?? '')) drift.add(`source.${key}`);
    } else {
      drift.add(SETTING_PROPS[field]);
    }
  }
  const want = credentialFor(props, '');
  if (want && !drift.has('source.extraction')) {
    const current = crawler.credentialGuid ? await client.getCredential(crawler.credentialGuid) : undefined;
    if (!current) drift.add('source.auth');
    else {
      const extra = (current.extra ?? {}) as Record<string, unknown>;
      const wanted = (want.extra ?? {}) as Record<string, unknown>;
      if (current.host !== want.host) drift.add('source.host');
      if (current.port !== want.port) drift.add('source.port');
      if (extra.database !== wanted.database) drift.add('source.database');
      if (current.authType !== want.authType) drift.add('source.auth.type');
      else if ((current.username ?? undefined) !== (want.username ?? undefined) || ['username', 'aws_role_arn', 'aws_external_id'].some((k) => extra[k] !== wanted[k])) drift.add('source.auth');
    }
  }
  return [...drift].sort();
}

// ================================================================ runs

/** How long to look for what a submit that may have been carried out made (search indexes lag). */
const SUBMIT_PATIENCE_MS = 30_000;

/** Polls `find` with backoff until it finds something, for at most `patienceMs` (or the deadline). */
async function lookFor<T>(what: string, find: () => Promise<T | undefined>, ctx: HandlerContext, patienceMs = SUBMIT_PATIENCE_MS): Promise<T | undefined> {
  const until = Date.now() + patienceMs;
  for (let attempt = 0; ; attempt++) {
    const found = await find();
    if (found !== undefined || Date.now() >= until) return found;
    if (attempt === 0) ctx.log(`looking for ${what} (search indexes may lag)`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** attempt, 5_000)));
    ctx.signal.throwIfAborted();
  }
}

const crawlOf = (crawler: Crawler) => `the crawl of connection '${crawler.settings.connectionName}'`;

/**
 * Awaits a run to its end with the kit's helper (backoff, a line every 30 s, the deadline), its id
 * checkpointed first so the next apply resumes it. Throws with Atlan's message if it failed.
 */
async function awaitRun(client: AtlanClient, crawler: Crawler, first: AtlanRun, ctx: HandlerContext, base: Recovery): Promise<AtlanRun> {
  const { isRunDone, isRunSucceeded } = atlanApi();
  return awaitOperation<AtlanRun>(
    {
      what: crawlOf(crawler),
      start: async () => first,
      idOf: (run) => run.id,
      isDone: isRunDone,
      errorOf: (run) => (isRunSucceeded(run) ? undefined : run.message ? `${run.message} (${run.phase})` : `the run ended ${run.phase}`),
      async poll(id) {
        if (crawler.api === 'app') {
          const run = await client.getAppRun(id);
          if (!run) throw new Error(`Atlan no longer knows run ${id} of ${describeCrawler(crawler)}`);
          return run;
        }
        // A new run may not be in the runs index yet.
        return (await client.getRun(id)) ?? { ...first, phase: first.phase === 'Running' ? 'Running' : 'Pending' };
      },
      initialDelayMs: 500,
      maxDelayMs: 15_000,
    },
    { ...ctx, checkpoint: async (data) => checkpoint(ctx, { ...base, run: (data as { operation?: string }).operation }) },
  );
}

/** The newest run of a legacy workflow, once the runs index shows one. */
async function newestRun(client: AtlanClient, workflow: string, ctx: HandlerContext, except: ReadonlySet<string> = new Set()): Promise<AtlanRun | undefined> {
  return lookFor(`the run of ${workflow}`, async () => (await client.runsOf(workflow, 5)).find((r) => !except.has(r.id)), ctx);
}

/** The active (Pending or Running) run of a crawler, if one is known. */
async function activeRun(client: AtlanClient, crawler: Crawler, ctx: HandlerContext): Promise<AtlanRun | undefined> {
  const { isRunActive } = atlanApi();
  if (crawler.api === 'workflow') return (await client.runsOf(crawler.id, 50)).find(isRunActive);
  // The App API lists no runs: the ones this stack last knew of (its submit's 409 names any other).
  const known = new Set([recoveryOf(ctx).run, typeof ctx.recorded?.lastRunId === 'string' ? ctx.recorded.lastRunId : undefined].filter((id): id is string => !!id));
  for (const id of known) {
    const run = await client.getAppRun(id);
    if (run && isRunActive(run)) return run;
  }
  return undefined;
}

/**
 * Starts a run, never twice: a 5xx after the tenant took it is looked up, not re-sent blindly.
 * `busy`: the tenant refused because another run is active (the App API's one-run rule); that
 * run is returned instead.
 */
async function submitRun(client: AtlanClient, crawler: Crawler, ctx: HandlerContext): Promise<{ run: AtlanRun; busy: boolean }> {
  const api = atlanApi();
  if (crawler.api === 'workflow') {
    const before = new Set((await client.runsOf(crawler.id, 50)).map((r) => r.id));
    try {
      return { run: await client.rerunWorkflow(crawler.id), busy: false };
    } catch (err) {
      if (!api.mayHaveCommitted(err)) throw err;
      ctx.log(`the rerun of ${crawler.id} answered ${(err as Error).message}; looking for the run it may have started before anything else`);
      const started = await newestRun(client, crawler.id, ctx, before);
      if (!started) throw err;
      return { run: started, busy: false };
    }
  }
  const busyRun = async (err: unknown): Promise<AtlanRun | undefined> => {
    const id = err instanceof api.AtlanApiError ? err.activeRunId : undefined;
    return id ? ((await client.getAppRun(id)) ?? { id, phase: 'Running', workflow: crawler.id }) : undefined;
  };
  try {
    return { run: await client.submitApp(crawler.id), busy: false };
  } catch (err) {
    const busy = await busyRun(err);
    if (busy) return { run: busy, busy: true };
    if (!api.mayHaveCommitted(err)) throw err;
    // The tenant allows one active run per App workflow: sending it again answers with the run it took.
    ctx.log(`the submit of ${crawler.id} answered ${(err as Error).message}; sending it again (the tenant refuses a second active run, naming the first)`);
    try {
      return { run: await client.submitApp(crawler.id), busy: false };
    } catch (again) {
      const taken = await busyRun(again);
      if (!taken) throw again;
      return { run: taken, busy: false };
    }
  }
}

/** Whether a legacy run runs exactly these settings (its template as it was when submitted). */
function runsSettings(run: AtlanRun, crawler: Crawler, settings: PostgresCrawlerSettings, credentialGuid: string | undefined): boolean {
  if (crawler.api !== 'workflow' || !run.parameters) return false;
  const read = atlanApi().readSettings(run.parameters, 'legacy');
  return !!read && read.credentialGuid === credentialGuid && atlanApi().settingsDiff(read.settings, settings).length === 0;
}

type RunNeed = { kind: 'none' } | { kind: 'await'; run: AtlanRun } | { kind: 'fresh' } | { kind: 'always' };

/**
 * Runs the crawl as decided: `fresh` after a change (an active run of older settings is awaited
 * first), `always` (an active run is awaited instead of starting one), `await` a run started
 * before. Returns the last run, or undefined if none was started or awaited.
 */
async function crawl(client: AtlanClient, crawler: Crawler, need: RunNeed, settings: PostgresCrawlerSettings, ctx: HandlerContext): Promise<AtlanRun | undefined> {
  const base: Recovery = { api: crawler.api, connectionName: crawler.settings.connectionName, connectionQualifiedName: crawler.settings.connectionQualifiedName, workflow: crawler.name };
  if (need.kind === 'none') return undefined;
  if (need.kind === 'await') {
    ctx.log(`run ${need.run.id} is ${need.run.phase}: waiting for it rather than starting another`);
    return awaitRun(client, crawler, need.run, ctx, base);
  }
  let active = await activeRun(client, crawler, ctx);
  for (let round = 0; round < 5; round++) {
    if (active) {
      if (need.kind === 'always' || runsSettings(active, crawler, settings, crawler.credentialGuid)) {
        ctx.log(`run ${active.id} is ${active.phase} with the current settings: not starting another; waiting for it`);
        return awaitRun(client, crawler, active, ctx, base);
      }
      ctx.log(`run ${active.id} is ${active.phase} with the settings from before this change: waiting for it to end, then starting one with the current settings`);
      await awaitRun(client, crawler, active, ctx, base).catch((err: Error) => {
        if (err.name !== 'OperationFailedError') throw err;
        ctx.log(`that run ended without success (${err.message}); starting one with the current settings`);
      });
    }
    const submitted = await submitRun(client, crawler, ctx);
    if (!submitted.busy) {
      ctx.log(`started run ${submitted.run.id} of ${describeCrawler(crawler)}`);
      return awaitRun(client, crawler, submitted.run, ctx, base);
    }
    active = submitted.run;
  }
  throw new Error(`${describeCrawler(crawler)} kept having another run active; apply again once it is idle`);
}

// ================================================================ lifecycle

function outputsOf(crawler: Crawler, run: AtlanRun | undefined, recorded?: Record<string, unknown>): PostgresCrawlerOutputs {
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  return {
    api: crawler.api,
    workflowName: crawler.id,
    connectionQualifiedName: crawler.settings.connectionQualifiedName,
    credentialGuid: crawler.credentialGuid ?? '',
    lastRunId: run?.id ?? str(recorded?.lastRunId),
    lastRunPhase: run?.phase ?? str(recorded?.lastRunPhase),
  };
}

/** The updated legacy template: ours, with annotations the tenant added (a schedule) kept. */
function legacyBody(crawler: Crawler, settings: PostgresCrawlerSettings, credentialGuid: string | undefined): Record<string, any> {
  const api = atlanApi();
  const epoch = api.epochOf(crawler.id) as number;
  const body = api.postgresWorkflow(epoch, settings, { guid: credentialGuid });
  const annotations = { ...(crawler.template?.metadata.annotations ?? {}), ...(body.metadata.annotations as Record<string, string>) };
  const labels = { ...(crawler.template?.metadata.labels ?? {}), ...(body.metadata.labels as Record<string, string>) };
  return { metadata: { ...body.metadata, labels, annotations }, spec: body.spec };
}

/**
 * Brings an existing crawler to the props and runs it as `runOnDeploy` says: the credential
 * (made if missing, rotated in place when it differs or its secrets changed), the workflow's
 * settings (updated in place), then the run.
 */
async function converge(client: AtlanClient, found: Crawler, props: PostgresCrawlerProps, ctx: HandlerContext, mode: 'update' | 'adopt'): Promise<PostgresCrawlerOutputs> {
  const api = atlanApi();
  let crawler = found;
  if (props.tenant.api !== 'auto' && props.tenant.api !== crawler.api) {
    ctx.log(`${describeCrawler(crawler)} lives on the ${crawler.api === 'app' ? 'App' : 'legacy workflow'} API and stays there; the tenant's api '${props.tenant.api}' applies to new crawlers`);
  }
  if (crawler.api === 'app' && props.source.extraction === 's3') throw new Error(`${describeCrawler(crawler)} is on the App API, which cannot crawl offline from S3; keep direct extraction, or replace the crawler on the legacy workflow API`);
  const settings = await desiredSettings(client, props, crawler.settings.connectionQualifiedName);

  // The credential: one for the crawler's life, rotated in place.
  let guid = crawler.credentialGuid;
  let credentialChanged = false;
  let purge: string | undefined;
  const epoch = api.epochOf(crawler.api === 'workflow' ? crawler.id : crawler.settings.connectionQualifiedName) ?? Math.floor(Date.now() / 1000);
  const want = credentialFor(props, api.credentialName(epoch));
  const secretsChanged = mode === 'adopt' || ctx.changes.some((p) => p === 'source' || p.startsWith('source.'));
  if (want) {
    const current = guid ? await client.getCredential(guid) : undefined;
    if (!current) {
      // Made by an interrupted apply? Credentials are found by name, so a retry makes no second one.
      const [named] = await client.credentialsNamed(want.name);
      guid = named?.id ?? (await client.createCredential(want)).id;
      if (named?.id) await client.updateCredential(named.id, want);
      ctx.log(`${named ? 'took over' : 'created'} credential ${guid} (${want.name})`);
      credentialChanged = true;
    } else {
      const differs = api.credentialFingerprint(current) !== api.credentialFingerprint(want);
      if (differs || secretsChanged) {
        await client.updateCredential(guid as string, { ...want, name: current.name });
        ctx.log(`updated credential ${guid}${differs ? '' : ' (its secret)'}`);
        credentialChanged = differs || mode === 'update';
      }
    }
  } else if (guid) {
    purge = guid;
    guid = undefined;
  }

  // The workflow's settings, in place.
  const diff = api.settingsDiff(crawler.settings, settings);
  const guidChanged = guid !== crawler.credentialGuid;
  if (diff.length > 0 || guidChanged) {
    if (crawler.api === 'workflow') await client.updateWorkflow(crawler.id, legacyBody(crawler, settings, guid));
    else await client.updateApp(crawler.id, api.postgresAppInputs(settings, { guid }));
    ctx.log(`updated ${describeCrawler(crawler)}: ${[...diff, ...(guidChanged ? ['credential'] : [])].join(', ')}`);
    crawler = { ...crawler, settings, credentialGuid: guid };
  }
  if (purge) {
    await client.purgeCredential(purge);
    ctx.log(`purged credential ${purge}: offline extraction needs none`);
  }

  const need = await runNeed(client, crawler, props, ctx, mode, diff.length > 0 || guidChanged || credentialChanged);
  const run = await crawl(client, crawler, need, settings, ctx);
  return outputsOf(crawler, run, ctx.recorded);
}

/** Whether (and how) this deploy runs the crawl. */
async function runNeed(client: AtlanClient, crawler: Crawler, props: PostgresCrawlerProps, ctx: HandlerContext, mode: 'update' | 'adopt', changedNow: boolean): Promise<RunNeed> {
  const { isRunActive, isRunSucceeded } = atlanApi();
  if (props.runOnDeploy === 'never') return { kind: 'none' };
  if (changedNow) return { kind: 'fresh' };
  // A run an interrupted apply started (and checkpointed): resumed, not started again.
  const recovery = recoveryOf(ctx);
  const recovered = recovery.run ? await (crawler.api === 'app' ? client.getAppRun(recovery.run) : client.getRun(recovery.run)) : undefined;
  if (recovered && isRunActive(recovered)) return { kind: 'await', run: recovered };
  if (props.runOnDeploy === 'always') return { kind: 'always' };
  if (recovered) {
    if (isRunSucceeded(recovered)) {
      ctx.log(`run ${recovered.id}, started by an interrupted apply, has ${recovered.phase}`);
      return { kind: 'none' };
    }
    return { kind: 'fresh' };
  }
  if (mode === 'update') return ctx.changes.some(isCrawlRelevant) ? { kind: 'fresh' } : { kind: 'none' };
  // Adopted: run unless its last run succeeded.
  if (crawler.api === 'workflow') {
    const [latest] = await client.runsOf(crawler.id, 1);
    if (!latest || !isRunSucceeded(latest)) return latest && isRunActive(latest) ? { kind: 'await', run: latest } : { kind: 'fresh' };
  }
  return { kind: 'none' };
}

/** After a create call that may have been carried out: what it made, if anything (found by its name). */
async function submittedCrawler(client: AtlanClient, api: Api, name: string, qualifiedName: string, ctx: HandlerContext): Promise<Crawler | undefined> {
  return lookFor(`the ${api === 'app' ? 'App ' : ''}workflow ${name}`, async () => {
    if (api === 'workflow') return getCrawler(client, 'workflow', name);
    const apps = (await client.listApps(name)).map(fromApp).filter((c): c is Crawler => !!c);
    return apps.find((c) => c.settings.connectionQualifiedName === qualifiedName);
  }, ctx);
}

async function createLegacy(client: AtlanClient, props: PostgresCrawlerProps, settings: PostgresCrawlerSettings, ctx: HandlerContext): Promise<Crawler> {
  const api = atlanApi();
  const run = props.runOnDeploy !== 'never';
  const qn = settings.connectionQualifiedName;
  let epoch = Math.floor(Date.now() / 1000);
  for (let attempt = 0; attempt < 10; attempt++, epoch++) {
    const name = api.postgresWorkflowName(epoch);
    const base: Recovery = { api: 'workflow', connectionName: props.connectionName, connectionQualifiedName: qn, workflow: name };
    await checkpoint(ctx, base);
    try {
      const answer = await client.createWorkflow(api.postgresWorkflow(epoch, settings, { inline: credentialFor(props, api.credentialName(epoch)) }), run);
      const made = fromTemplate(answer);
      if (!made) throw new Error(`Atlan answered the create of ${name} with a workflow pgstacks cannot read: ${JSON.stringify(answer).slice(0, 300)}`);
      return made;
    } catch (err) {
      if (err instanceof api.AtlanApiError && err.status === 409) {
        // Taken: by this very create (an answer lost earlier), or by another crawler made the same second.
        const existing = await getCrawler(client, 'workflow', name);
        if (existing && existing.settings.connectionQualifiedName === qn && existing.settings.connectionName === props.connectionName) return existing;
        ctx.log(`workflow name ${name} is taken; trying the next second's`);
        continue;
      }
      if (api.mayHaveCommitted(err)) {
        ctx.log(`the create of ${name} answered ${(err as Error).message}; looking for what it made before anything else`);
        const made = await submittedCrawler(client, 'workflow', name, qn, ctx);
        if (made) return made;
      } else {
        // Certainly not made: nothing for the next apply to look for.
        await checkpoint(ctx, { api: 'workflow', connectionName: props.connectionName });
      }
      throw err;
    }
  }
  throw new Error(`could not find a free workflow name for connection '${props.connectionName}' after 10 tries`);
}

async function createApp(client: AtlanClient, props: PostgresCrawlerProps, settings: PostgresCrawlerSettings, ctx: HandlerContext): Promise<{ crawler: Crawler; runId?: string }> {
  const api = atlanApi();
  const run = props.runOnDeploy !== 'never';
  const qn = settings.connectionQualifiedName;
  const name = props.connectionName;
  await checkpoint(ctx, { api: 'app', connectionName: name, connectionQualifiedName: qn, workflow: name });
  const epoch = api.epochOf(qn) as number;
  let slug: string;
  let runId: string | undefined;
  try {
    const answer = await client.createApp(name, api.postgresAppInputs(settings, { raw: credentialFor(props, api.credentialName(epoch)) }), run);
    slug = answer.slug;
    runId = answer.run_id;
  } catch (err) {
    const existing = err instanceof api.AtlanApiError ? err.existingSlug : undefined;
    if (existing) {
      const app = await getCrawler(client, 'app', existing);
      if (app?.settings.connectionQualifiedName !== qn) {
        await checkpoint(ctx, { api: 'app', connectionName: name });
        throw new Error(`Atlan already has an App workflow named '${name}' (${existing}) that crawls another connection; rename the connection (connectionName) or delete that workflow in Atlan`);
      }
      slug = existing;
    } else if (api.mayHaveCommitted(err)) {
      ctx.log(`the create of App workflow '${name}' answered ${(err as Error).message}; looking for what it made before anything else`);
      const made = await submittedCrawler(client, 'app', name, qn, ctx);
      if (!made) throw err;
      slug = made.id;
    } else {
      await checkpoint(ctx, { api: 'app', connectionName: name });
      throw err;
    }
  }
  const crawler = await getCrawler(client, 'app', slug);
  if (!crawler) throw new Error(`App workflow ${slug} was created but cannot be read back`);
  return { crawler, runId };
}

export const postgresCrawlerType = defineResourceType<PostgresCrawlerProps, PostgresCrawlerOutputs>({
  name: 'atlan:postgres-crawler',
  module: __filename,
  schema: postgresCrawlerSchema,
  attributes: ['api', 'workflowName', 'connectionQualifiedName', 'credentialGuid', 'lastRunId', 'lastRunPhase'],
  // Another tenant is another crawler; everything else changes in place.
  immutable: ['tenant.baseUrl'],
  // The App API keeps one live workflow per name: the old one goes first.
  replaceOrder: 'delete-before-create',
  // The workflow and credential go with the construct; the connection only with deleteConnection.
  defaultRemovalPolicy: 'destroy',

  async create(props, ctx) {
    redactSecrets(props, ctx);
    const api = atlanApi();
    const client = atlanClient(props.tenant, ctx);
    const served = await servedApis(client, props.tenant);
    const chosen = chooseApi(props, served);
    // One crawler per connection name: one made outside this stack is not made again beside it.
    const others = await crawlersOf(client, served.length ? served : [chosen], [props.connectionName]);
    if (others.length > 0) {
      throw new Error(
        `Atlan already has a Postgres crawler for connection '${props.connectionName}' (${others.map(describeCrawler).join(', ')}), which this stack has no record of. ` +
          `To manage it here, record it with 'pgstacks state import ${ctx.stack} ${ctx.logicalId} ${others[0]!.id}' and apply again (it is then updated to match the code); otherwise choose another connectionName.`,
      );
    }
    // A connection kept from an earlier crawler (its assets included) is crawled into again.
    const kept = await client.findConnections(props.connectionName);
    if (kept.length > 1) {
      throw new Error(`Atlan has ${kept.length} Postgres connections named '${props.connectionName}' (${kept.map((c) => c.attributes.qualifiedName).join(', ')}): choose another connectionName, or delete the extra ones in Atlan`);
    }
    const qn = (kept[0]?.attributes.qualifiedName as string | undefined) ?? api.connectionQualifiedName(Math.floor(Date.now() / 1000));
    if (kept[0]) ctx.log(`crawling into the existing connection ${qn} ('${props.connectionName}'), kept from an earlier crawler`);
    const settings = await desiredSettings(client, props, qn);

    let crawler: Crawler;
    let first: AtlanRun | undefined;
    if (chosen === 'workflow') {
      crawler = await createLegacy(client, props, settings, ctx);
      if (props.runOnDeploy !== 'never') first = await newestRun(client, crawler.id, ctx);
    } else {
      const made = await createApp(client, props, settings, ctx);
      crawler = made.crawler;
      if (props.runOnDeploy !== 'never') first = made.runId ? await client.getAppRun(made.runId) : (await submitRun(client, crawler, ctx)).run;
    }
    ctx.log(`created ${describeCrawler(crawler)} for connection ${crawler.settings.connectionQualifiedName} ('${props.connectionName}')`);
    const base: Recovery = { api: crawler.api, connectionName: props.connectionName, connectionQualifiedName: crawler.settings.connectionQualifiedName, workflow: crawler.name };
    if (props.runOnDeploy !== 'never' && !first) throw new Error(`${describeCrawler(crawler)} was created and run, but its run does not show in Atlan's runs index; apply again to wait for it`);
    if (first) ctx.log(`started run ${first.id} of ${describeCrawler(crawler)}`);
    const run = first ? await awaitRun(client, crawler, first, ctx, base) : undefined;
    return { physicalId: crawler.id, outputs: outputsOf(crawler, run) };
  },

  async read(id, props, ctx) {
    redactSecrets(props, ctx);
    const client = atlanClient(props.tenant, ctx);
    const crawler = await getCrawler(client, apiOf(id, ctx), id);
    if (!crawler) return undefined;
    const drift = await driftOf(client, crawler, props);
    // `always` reads as drift, so every deploy updates it, and the update runs it.
    if (props.runOnDeploy === 'always') drift.push('runOnDeploy');
    return { outputs: outputsOf(crawler, undefined, ctx.recorded), observed: { settings: crawler.settings, credentialGuid: crawler.credentialGuid }, drift };
  },

  async update(id, _old, props, ctx) {
    redactSecrets(props, ctx);
    const client = atlanClient(props.tenant, ctx);
    const crawler = await getCrawler(client, apiOf(id, ctx), id);
    if (!crawler) throw new Error(`${id} no longer exists in Atlan; apply again to create it anew`);
    return { outputs: await converge(client, crawler, props, ctx, 'update') };
  },

  async delete(id, props, ctx) {
    const api = atlanApi();
    const client = atlanClient(props.tenant, ctx);
    const kind = apiOf(id, ctx);
    const crawler = await getCrawler(client, kind, id);
    const recorded = ctx.recorded ?? {};
    const qn = crawler?.settings.connectionQualifiedName ?? (typeof recorded.connectionQualifiedName === 'string' ? recorded.connectionQualifiedName : undefined);
    const guid = crawler?.credentialGuid ?? (typeof recorded.credentialGuid === 'string' && recorded.credentialGuid ? recorded.credentialGuid : undefined);

    // Stop what runs, so nothing crawls into the connection after the workflow is gone.
    const stopped: AtlanRun[] = [];
    if (crawler) {
      const active = await activeRun(client, crawler, ctx);
      if (active) {
        if (kind === 'workflow') await client.stopRun(active.id);
        else await client.cancelAppRun(active.id);
        ctx.log(`stopped run ${active.id}`);
        stopped.push(active);
      }
    }
    const archived = kind === 'workflow' ? await client.archiveWorkflow(id) : await client.deleteApp(id);
    if (archived) ctx.log(`archived ${kind === 'workflow' ? 'workflow' : 'App workflow'} ${id}`);
    if (guid && (await client.purgeCredential(guid))) ctx.log(`purged credential ${guid}`);
    if (!props.deleteConnection || !qn) return;

    if (!(await client.getConnection(qn))) return;
    if (!(await client.servesWorkflowApi())) {
      ctx.log(`kept connection ${qn}: this tenant serves only the App API, which has no connection-delete package; delete the connection in Atlan`);
      return;
    }
    for (const run of stopped) {
      if (kind !== 'workflow' || !crawler) continue;
      await awaitRun(client, crawler, run, ctx, {}).catch((err: Error) => {
        if (err.name !== 'OperationFailedError') throw err;
      });
    }
    const { workflow, run } = await client.deleteConnection(qn, false);
    const first = run ?? (await newestRun(client, workflow, ctx));
    if (!first) throw new Error(`the connection-delete workflow ${workflow} was submitted, but its run does not show in Atlan's runs index`);
    await awaitOperation<AtlanRun>(
      {
        what: `the deletion of connection ${qn} (${workflow})`,
        start: async () => first,
        idOf: (r) => r.id,
        isDone: api.isRunDone,
        errorOf: (r) => (api.isRunSucceeded(r) ? undefined : (r.message ?? `the run ended ${r.phase}`)),
        poll: async (runId) => (await client.getRun(runId)) ?? first,
        initialDelayMs: 500,
        maxDelayMs: 15_000,
      },
      ctx,
    );
    await client.archiveWorkflow(workflow);
    ctx.log(`deleted connection ${qn} and its assets (soft, with ${workflow})`);
  },

  /**
   * After an interrupted create: the workflow it made, found by the name checkpointed before the
   * submit (else by connection name), never made again; then brought to the props, and its run
   * (the checkpointed one) awaited to its end.
   */
  async adopt(props, ctx) {
    redactSecrets(props, ctx);
    const client = atlanClient(props.tenant, ctx);
    const recovery = recoveryOf(ctx);
    let crawler: Crawler | undefined;
    if (recovery.api && recovery.workflow && recovery.connectionQualifiedName) {
      crawler = await submittedCrawler(client, recovery.api, recovery.workflow, recovery.connectionQualifiedName, ctx);
    }
    if (!crawler) {
      const apis = recovery.api ? [recovery.api] : await servedApis(client, props.tenant);
      const found = await crawlersOf(client, apis, [...new Set([props.connectionName, ...(recovery.connectionName ? [recovery.connectionName] : [])])]);
      if (found.length > 1) {
        throw new Error(`Atlan has ${found.length} Postgres crawlers for connection '${props.connectionName}' (${found.map(describeCrawler).join(', ')}); archive the extra ones in Atlan, or record the right one with 'pgstacks state import ${ctx.stack} ${ctx.logicalId} <workflow>'`);
      }
      crawler = found[0];
    }
    if (!crawler) return undefined;
    ctx.log(`found ${describeCrawler(crawler)} for connection ${crawler.settings.connectionQualifiedName}`);
    // Found only to be deleted: no update, no run.
    if (ctx.removing) return { physicalId: crawler.id, outputs: {} as PostgresCrawlerOutputs };
    return { physicalId: crawler.id, outputs: await converge(client, crawler, props, ctx, 'adopt') };
  },

  naturalKey: (props) => `${tenantUrl(props.tenant)}#${props.connectionName}`,
});

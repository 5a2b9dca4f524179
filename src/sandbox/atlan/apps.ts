/**
 * The App API (`/v1/apps/{app_id}` discovery, `/v1/app` workflows), which newer tenants serve
 * instead of package workflows; the emulator has one app, `postgres-crawler` (entrypoint
 * `crawler`). Wire keys are snake_case. A workflow is named by its caller and identified by a
 * server-minted slug; a second create with a live name is a 409 whose body carries the existing
 * slug. A raw `credential` in the inputs is stored as a credential whose guid becomes
 * `credential_guid`; an update without one keeps the stored credential. One run at a time per
 * workflow: a submit while one is active is a 409 naming it. Schedules are recorded, never fired.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import * as z from 'zod';
import { ATLAN_POSTGRES_APP } from '../../services/atlan';
import { route, type Route } from '../http';
import { admins, apiGuard, creatorOf, type AtlanContext } from './context';
import { credentialBody, type Queryable } from './credentials';
import { atlanError, badRequest, notFound, rawError } from './errors';
import type { Caller } from './identity';
import { checkRegex, parseConnection, parseExtraction, parseFilterMap, parseFlag, type PostgresCrawlConfig } from './packages';
import type { Run } from './runs';

/** The inputs of `postgres-crawler`, by wire key, as its input contract lists them. */
const INPUT_PROPERTIES: Record<string, Record<string, unknown>> = {
  connection: { type: 'object', description: 'The Connection entity: {"typeName": "Connection", "attributes": {qualifiedName, name, adminRoles|adminGroups|adminUsers, ...}}' },
  extraction_method: { type: 'string', enum: ['direct', 'agent', 's3'], default: 'direct' },
  credential_guid: { type: 'string', default: '', description: 'An existing credential; "" with `credential` to store a new one, or on update to keep the stored one' },
  credential: { type: 'object', description: 'A raw credential (camelCase: authType, host, port, username, password, extra.database, connectorConfigName), stored server-side' },
  agent_json: { anyOf: [{ type: 'object' }, { type: 'string' }] },
  include_filter: { anyOf: [{ type: 'object' }, { type: 'string' }], default: '{}', title: 'Include Metadata' },
  exclude_filter: { anyOf: [{ type: 'object' }, { type: 'string' }], default: '{}', title: 'Exclude Metadata' },
  temp_table_regex: { type: 'string', default: '', title: 'Exclude regex for tables & views' },
  advanced_config: { type: 'string', enum: ['default', 'custom'], default: 'default' },
  use_source_schema_filtering: { type: 'string', enum: ['true', 'false'], default: 'false' },
  control_config_strategy: { type: 'string', enum: ['default', 'custom'], default: 'default' },
  control_config: { type: 'string', default: '{}' },
  use_jdbc_internal_methods: { type: 'string', enum: ['true', 'false'], default: 'true' },
};

const UNKNOWN_ENTRYPOINT = 1003;
const CRON = /^\s*\S+(\s+\S+){4}\s*$/;

const schedule = z.looseObject({ cron: z.string().regex(CRON, 'Expected a cron expression of five fields'), timezone: z.string().min(1).nullish() });
const createBody = z.looseObject({
  app_id: z.string().min(1),
  name: z.string().trim().min(1),
  inputs: z.record(z.string(), z.unknown()),
  entrypoint: z.string().nullish(),
  schedule: schedule.nullish(),
  run: z.boolean().nullish(),
});
const updateBody = z.looseObject({ inputs: z.record(z.string(), z.unknown()), entrypoint: z.string().nullish() });
const slugParams = z.object({ slug: z.string() });

interface App {
  readonly slug: string;
  readonly name: string;
  readonly appId: string;
  readonly entrypoint: string | undefined;
  readonly inputs: Record<string, unknown>;
  readonly version: number;
  readonly owner: string;
  readonly schedules: Array<{ trigger_id: string; cron: string; timezone: string }>;
  readonly archived: boolean;
  readonly createdAt: number;
  readonly updatedAt: number;
}

function checkApp(appId: string): void {
  if (appId !== ATLAN_POSTGRES_APP.appId) throw notFound(`App '${appId}' not found (the sandbox has ${ATLAN_POSTGRES_APP.appId})`);
}

function checkEntrypoint(entrypoint: string | null | undefined): void {
  if (entrypoint && entrypoint !== ATLAN_POSTGRES_APP.entrypoint) {
    throw atlanError(400, `unknown entrypoint or app does not expose an input contract: '${entrypoint}'`, UNKNOWN_ENTRYPOINT);
  }
}

/** Inputs by their snake_case keys (the contract's hyphenated aliases are accepted too). */
function normalize(inputs: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(inputs)) {
    const k = key.replace(/-/g, '_');
    if (!(k in INPUT_PROPERTIES)) throw badRequest(`Invalid inputs: '${key}' is not an input of ${ATLAN_POSTGRES_APP.appId}; expected ${Object.keys(INPUT_PROPERTIES).join(', ')}`);
    result[k] = value;
  }
  return result;
}

function enumInput(inputs: Record<string, unknown>, key: string): void {
  const allowed = INPUT_PROPERTIES[key]!.enum as string[];
  const value = inputs[key];
  if (value !== undefined && !allowed.includes(String(value))) throw badRequest(`Invalid inputs.${key}: expected one of ${allowed.join(', ')}`);
}

export function appRoutes(context: AtlanContext): Route[] {
  const { pg, clock, credentials, runs } = context;
  const read = apiGuard(context, 'app', 'read');
  const write = apiGuard(context, 'app', 'write');

  async function find(slug: string, db: Queryable = pg.state): Promise<App> {
    const row = (await db.query('SELECT * FROM atlan.apps WHERE slug = $1 AND NOT archived', [slug])).rows[0];
    if (!row) throw notFound(`App workflow '${slug}' not found`);
    return toApp(row);
  }

  /**
   * Checks the inputs and stores a raw credential if there is one; returns the inputs to keep
   * (no raw credential, `credential_guid` set) and what a run of them does.
   */
  async function resolve(db: Queryable, raw: Record<string, unknown>, caller: Caller, keepCredential?: string, verifyCredential = true): Promise<{ inputs: Record<string, unknown>; config: PostgresCrawlConfig }> {
    const inputs = normalize(raw);
    for (const key of ['extraction_method', 'advanced_config', 'use_source_schema_filtering', 'control_config_strategy', 'use_jdbc_internal_methods']) enumInput(inputs, key);
    if (typeof inputs.temp_table_regex === 'string' && inputs.temp_table_regex) checkRegex(inputs.temp_table_regex, 'inputs.temp_table_regex');
    const extraction = parseExtraction(inputs.extraction_method, 'inputs.extraction_method');
    let guid = typeof inputs.credential_guid === 'string' ? inputs.credential_guid : '';
    if (inputs.credential_guid !== undefined && typeof inputs.credential_guid !== 'string') throw badRequest('Invalid inputs.credential_guid: expected a string');
    if (inputs.credential !== undefined) {
      const parsed = credentialBody.safeParse(inputs.credential);
      if (!parsed.success) throw badRequest(`Invalid inputs.credential: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      guid = (await credentials.create(db, parsed.data, caller.username)).id;
    } else if (guid === '' && keepCredential) {
      guid = keepCredential;
    } else if (guid !== '' && verifyCredential && !(await credentials.get(guid, db))) {
      throw badRequest(`Invalid inputs.credential_guid: credential ${guid} does not exist`);
    }
    if (extraction === 'direct' && guid === '') throw badRequest('Invalid inputs: direct extraction needs a credential (inputs.credential, or an existing credential_guid)');
    const connection = parseConnection(inputs.connection, 'inputs.connection', await admins(context));
    if (guid) connection.defaultCredentialGuid = guid;
    const { credential: _vaulted, ...kept } = inputs;
    const stored = { ...kept, credential_guid: guid, connection: { typeName: 'Connection', attributes: connection } };
    const config: PostgresCrawlConfig = {
      package: 'postgres',
      extraction,
      credentialId: guid || undefined,
      connection,
      include: parseFilterMap(inputs.include_filter, 'inputs.include_filter'),
      exclude: parseFilterMap(inputs.exclude_filter, 'inputs.exclude_filter'),
      tempTableRegex: typeof inputs.temp_table_regex === 'string' && inputs.temp_table_regex ? inputs.temp_table_regex : undefined,
      sourceSchemaFiltering: parseFlag(inputs.use_source_schema_filtering, 'inputs.use_source_schema_filtering', false),
      jdbcInternalMethods: parseFlag(inputs.use_jdbc_internal_methods, 'inputs.use_jdbc_internal_methods', true),
    };
    return { inputs: stored, config };
  }

  /** Starts a run of the app's current inputs, unless one is still active. */
  async function submit(db: Queryable, app: App, config: PostgresCrawlConfig, caller: Caller): Promise<Run> {
    await db.query('SELECT 1 FROM atlan.apps WHERE slug = $1 FOR UPDATE', [app.slug]);
    const active = await runs.active(app.slug, db);
    if (active.length > 0) {
      throw rawError(409, { message: `a run of this workflow is already in progress; wait for it or cancel it`, slug: app.slug, run_id: active[0]!.name, status: active[0]!.phase });
    }
    return runs.submit(db, { api: 'app', workflow: app.slug, config, creator: creatorOf(caller) });
  }

  const nextVersion = (previous = 0) => Math.max(previous + 1, Math.floor(clock.now() / 1000));

  return [
    route({
      method: 'GET',
      path: '/v1/apps/:appId',
      guard: read,
      params: z.object({ appId: z.string() }),
      handler(_ctx, { params }) {
        checkApp(params.appId);
        return { app_id: ATLAN_POSTGRES_APP.appId, name: 'PostgreSQL', native_ready: true, execution_mode: 'native', entrypoints: [{ name: ATLAN_POSTGRES_APP.entrypoint }] };
      },
    }),
    route({
      method: 'GET',
      path: '/v1/apps/:appId/inputs',
      guard: read,
      params: z.object({ appId: z.string() }),
      query: z.looseObject({ entrypoint: z.string().optional() }),
      handler(_ctx, { params, query }) {
        checkApp(params.appId);
        checkEntrypoint(query.entrypoint);
        return { title: 'AppInputContract', type: 'object', properties: INPUT_PROPERTIES, required: ['connection', 'credential_guid'], $defs: {} };
      },
    }),
    route({
      method: 'POST',
      path: '/v1/app',
      guard: write,
      body: createBody,
      async handler(_ctx, { body, guard }) {
        checkApp(body.app_id);
        checkEntrypoint(body.entrypoint);
        if (body.schedule && body.schedule.timezone === null) throw badRequest('Invalid schedule: timezone may not be null');
        return pg.transaction(async (tx) => {
          // One live workflow per name: serialise creates of the same name.
          await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`atlan-app:${body.name}`]);
          const existing = (await tx.query('SELECT * FROM atlan.apps WHERE name = $1 AND NOT archived', [body.name])).rows.map(toApp);
          if (existing.length === 1) throw rawError(409, { message: 'a workflow with that name already exists', slug: existing[0]!.slug, version: existing[0]!.version });
          if (existing.length > 1) throw rawError(409, { message: 'workflows with that name already exist', slugs: existing.map((a) => a.slug) });
          const { inputs, config } = await resolve(tx, body.inputs, guard);
          const now = clock.now();
          const slug = `${slugOf(body.name)}-${randomBytes(4).toString('hex')}`;
          const schedules = body.schedule ? [{ trigger_id: randomUUID(), cron: body.schedule.cron, timezone: body.schedule.timezone ?? 'UTC' }] : [];
          const version = nextVersion();
          await tx.query(
            `INSERT INTO atlan.apps (slug, name, app_id, entrypoint, inputs, version, owner, schedules, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)`,
            [slug, body.name, body.app_id, body.entrypoint ?? null, JSON.stringify(inputs), version, guard.username, JSON.stringify(schedules), now],
          );
          const app = await find(slug, tx);
          const run = body.run === false ? undefined : await submit(tx, app, config, guard);
          return {
            execution_mode: 'native',
            slug,
            version,
            ...(run ? { run_id: run.name } : {}),
            ...(schedules[0] ? { schedule_trigger_id: schedules[0].trigger_id } : {}),
          };
        });
      },
    }),
    route({
      method: 'GET',
      path: '/v1/app',
      guard: read,
      query: z.looseObject({ name: z.string().optional(), limit: z.coerce.number().int().min(1).max(500).default(50), cursor: z.string().optional() }),
      async handler(_ctx, { query }) {
        const offset = query.cursor ? decodeCursor(query.cursor) : 0;
        const rows = (
          await pg.state.query('SELECT * FROM atlan.apps WHERE NOT archived AND ($1::text IS NULL OR name = $1) ORDER BY created_at, slug OFFSET $2 LIMIT $3', [
            query.name ?? null,
            offset,
            query.limit + 1,
          ])
        ).rows.map(toApp);
        const hasMore = rows.length > query.limit;
        return {
          workflows: rows.slice(0, query.limit).map(summary),
          has_more: hasMore,
          next_cursor: hasMore ? Buffer.from(String(offset + query.limit)).toString('base64url') : null,
        };
      },
    }),
    route({
      method: 'GET',
      path: '/v1/app/runs/:runId',
      guard: read,
      params: z.object({ runId: z.string() }),
      async handler(_ctx, { params }) {
        const run = await runs.get(params.runId);
        if (!run || run.api !== 'app') throw notFound(`Run '${params.runId}' not found`);
        return appRun(run);
      },
    }),
    route({
      method: 'POST',
      path: '/v1/app/runs/:runId/cancel',
      guard: write,
      params: z.object({ runId: z.string() }),
      async handler(_ctx, { params }) {
        const run = await runs.get(params.runId);
        if (!run || run.api !== 'app') throw notFound(`Run '${params.runId}' not found`);
        const cancelled = await runs.cancel(params.runId);
        const now = cancelled ?? run;
        return { run_id: now.name, cancelled: cancelled !== undefined, status: now.phase, slug: now.workflow };
      },
    }),
    route({
      method: 'GET',
      path: '/v1/app/:slug',
      guard: read,
      params: slugParams,
      handler: async (_ctx, { params }) => summary(await find(params.slug)),
    }),
    route({
      method: 'PUT',
      path: '/v1/app/:slug',
      guard: write,
      params: slugParams,
      body: updateBody,
      async handler(_ctx, { params, body, guard }) {
        checkEntrypoint(body.entrypoint);
        return pg.transaction(async (tx) => {
          const app = await find(params.slug, tx);
          const { inputs } = await resolve(tx, body.inputs, guard, String(app.inputs.credential_guid ?? '') || undefined);
          const version = nextVersion(app.version);
          await tx.query('UPDATE atlan.apps SET inputs = $2, entrypoint = coalesce($3, entrypoint), version = $4, updated_at = $5 WHERE slug = $1', [
            app.slug,
            JSON.stringify(inputs),
            body.entrypoint ?? null,
            version,
            clock.now(),
          ]);
          return { execution_mode: 'native', slug: app.slug, version };
        });
      },
    }),
    route({
      method: 'DELETE',
      path: '/v1/app/:slug',
      guard: write,
      params: slugParams,
      async handler(_ctx, { params }) {
        const app = await find(params.slug);
        await pg.state.query('UPDATE atlan.apps SET archived = true, updated_at = $2 WHERE slug = $1', [app.slug, clock.now()]);
        return { slug: app.slug, archived: true };
      },
    }),
    route({
      method: 'POST',
      path: '/v1/app/:slug/submit',
      guard: write,
      params: slugParams,
      async handler(_ctx, { params, guard }) {
        return pg.transaction(async (tx) => {
          const app = await find(params.slug, tx);
          // A credential purged since is the run's problem (it fails), not the submit's.
          const { config } = await resolve(tx, app.inputs, guard, undefined, false);
          const run = await submit(tx, app, config, guard);
          return appRun(run);
        });
      },
    }),
    route({
      method: 'POST',
      path: '/v1/app/:slug/schedule',
      guard: write,
      params: slugParams,
      body: schedule,
      async handler(_ctx, { params, body }) {
        if (body.timezone === null) throw badRequest('Invalid schedule: timezone may not be null');
        const app = await find(params.slug);
        const added = { trigger_id: randomUUID(), cron: body.cron, timezone: body.timezone ?? 'UTC' };
        await pg.state.query('UPDATE atlan.apps SET schedules = $2 WHERE slug = $1', [app.slug, JSON.stringify([...app.schedules, added])]);
        return added;
      },
    }),
    route({
      method: 'DELETE',
      path: '/v1/app/:slug/schedule/:triggerId',
      guard: write,
      params: z.object({ slug: z.string(), triggerId: z.string() }),
      async handler(_ctx, { params }) {
        const app = await find(params.slug);
        if (!app.schedules.some((s) => s.trigger_id === params.triggerId)) throw notFound(`Schedule '${params.triggerId}' not found on '${app.slug}'`);
        await pg.state.query('UPDATE atlan.apps SET schedules = $2 WHERE slug = $1', [app.slug, JSON.stringify(app.schedules.filter((s) => s.trigger_id !== params.triggerId))]);
        return { trigger_id: params.triggerId, deleted: true };
      },
    }),
  ];
}

/** A run as get_run, submit and cancel answer it. */
function appRun(run: Run): Record<string, unknown> {
  return {
    run_id: run.name,
    slug: run.workflow,
    status: run.phase,
    started_at: new Date(run.createdAt).toISOString(),
    finished_at: run.finishedAt === undefined ? null : new Date(run.finishedAt).toISOString(),
    ...(run.message ? { message: run.message } : {}),
  };
}

/** A workflow as get and list show it (the stored credential by guid only). */
function summary(app: App): Record<string, unknown> {
  return {
    slug: app.slug,
    name: app.name,
    version: app.version,
    owner: app.owner,
    app_id: app.appId,
    entrypoint: app.entrypoint ?? null,
    execution_mode: 'native',
    inputs: app.inputs,
    created_at: new Date(app.createdAt).toISOString(),
    updated_at: new Date(app.updatedAt).toISOString(),
  };
}

/** The name, lowercased to letters, digits and single hyphens. */
function slugOf(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40)
      .replace(/-+$/, '') || 'workflow'
  );
}

function decodeCursor(cursor: string): number {
  const n = Number(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!Number.isInteger(n) || n < 0) throw badRequest(`Invalid cursor: ${cursor}`);
  return n;
}

function toApp(row: Record<string, any>): App {
  return {
    slug: row.slug,
    name: row.name,
    appId: row.app_id,
    entrypoint: row.entrypoint ?? undefined,
    inputs: row.inputs,
    version: Number(row.version),
    owner: row.owner,
    schedules: row.schedules,
    archived: row.archived,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

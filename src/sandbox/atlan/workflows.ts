/**
 * The legacy package-workflow API (Heracles over Argo): create and run a WorkflowTemplate
 * (`workflows?submit=true`), find templates and runs through their ES indexes, rerun, update,
 * archive, stop a run, and read the CronWorkflows that schedule annotations imply. Each path is
 * also served under `package-workflows`, which the official client uses for callers without an
 * admin or API-token role.
 *
 * On create, an inline credential (`payload[].body`) is stored under a new guid that replaces
 * `{{credentialGuid}}` in the stored template, so the template names its real credential. A name
 * already taken by a live template is a 409. Schedules are recorded, never fired.
 */
import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { route, type Route } from '../http';
import { apiGuard, admins, creatorOf, type AtlanContext } from './context';
import { credentialBody, type Queryable } from './credentials';
import { badRequest, conflict, notFound } from './errors';
import type { Caller } from './identity';
import { CREDENTIAL_PLACEHOLDER, KNOWN_PACKAGES, legacyConfig, substituteCredential, templateTask, type RunConfig } from './packages';
import { k8sTime, runSource, uidOf, type Run } from './runs';
import { readPath, search, type SearchContext } from './search';

const SCHEDULE = 'orchestration.atlan.com/schedule';
const TIMEZONE = 'orchestration.atlan.com/timezone';
/** Kubernetes names: lowercase alphanumerics and '-', at most 63 characters. */
const K8S_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

const stringMap = z.record(z.string(), z.string());
const workflowBody = z.looseObject({
  metadata: z.looseObject({
    name: z.string().min(1),
    namespace: z.string().optional(),
    labels: stringMap.nullish(),
    annotations: stringMap.nullish(),
  }),
  spec: z.looseObject({ templates: z.array(z.unknown()).min(1) }),
  payload: z
    .array(z.looseObject({ parameter: z.string().optional(), type: z.string().optional(), body: z.unknown().optional() }))
    .nullish(),
});
type WorkflowBody = z.output<typeof workflowBody>;

const rerunBody = z.looseObject({
  namespace: z.string().optional(),
  resourceKind: z.string().optional(),
  resourceName: z.string().min(1),
});

const searchBody = z.looseObject({
  from: z.number().int().min(0).default(0),
  size: z.number().int().min(0).max(10_000).default(10),
  query: z.unknown().optional(),
  post_filter: z.unknown().optional(),
  sort: z.unknown().optional(),
});

interface Template {
  readonly name: string;
  readonly package: RunConfig['package'];
  readonly source: Record<string, any>;
  readonly credentialId: string | undefined;
  readonly archived: boolean;
  readonly createdAt: number;
  readonly seq: number;
}

interface Doc {
  readonly id: string;
  readonly source: Record<string, unknown>;
  readonly seq: number;
}

/** The ES envelope the workflow and run indexes answer with. */
function esResponse(index: string, total: number, page: Array<{ doc: Doc; sort: unknown[] }>, took: number): unknown {
  return {
    took,
    timed_out: false,
    _shards: { total: 1, successful: 1, skipped: 0, failed: 0 },
    hits: {
      total: { value: total, relation: 'eq' },
      max_score: null,
      hits: page.map(({ doc, sort }) => ({ _index: index, _type: '_doc', _id: doc.id, _score: null, _seq_no: doc.seq, _primary_term: 1, _source: doc.source, sort })),
    },
  };
}

export function workflowRoutes(context: AtlanContext): Route[] {
  const { pg, clock, credentials, runs } = context;
  const read = apiGuard(context, 'workflow', 'read');
  const write = apiGuard(context, 'workflow', 'write');

  async function template(name: string, db: Queryable = pg.state): Promise<Template | undefined> {
    const row = (await db.query('SELECT * FROM atlan.workflows WHERE name = $1', [name])).rows[0];
    return row ? toTemplate(row) : undefined;
  }

  async function liveTemplate(name: string): Promise<Template> {
    const found = await template(name);
    if (!found || found.archived) throw notFound(`Workflow template ${name} not found`);
    return found;
  }

  /** The package a body's first task runs; unknown packages are refused. */
  function packageOf(body: WorkflowBody): { pkg: RunConfig['package']; ref: string } {
    const { ref } = templateTask(body.spec);
    if (!ref) throw badRequest('Invalid workflow: spec.templates[0].dag.tasks[0].templateRef.name is required');
    const pkg = KNOWN_PACKAGES[ref];
    if (!pkg) throw badRequest(`Invalid workflow: package '${ref}' is not installed on this tenant (the sandbox runs ${Object.keys(KNOWN_PACKAGES).join(' and ')})`);
    return { pkg, ref };
  }

  function checkName(name: string, ref: string): void {
    if (!K8S_NAME.test(name)) throw badRequest(`Invalid workflow: metadata.name '${name}' must be lowercase letters, digits and '-', at most 63 characters`);
    if (!name.startsWith(`${ref}-`)) throw badRequest(`Invalid workflow: metadata.name '${name}' must start with '${ref}-'`);
  }

  function storedSource(body: WorkflowBody, spec: unknown, created: { at: number; uid: string }, generation: number): Record<string, unknown> {
    return {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'WorkflowTemplate',
      metadata: {
        name: body.metadata.name,
        namespace: 'default',
        uid: created.uid,
        resourceVersion: String(generation),
        generation,
        creationTimestamp: k8sTime(created.at),
        labels: body.metadata.labels ?? {},
        annotations: body.metadata.annotations ?? {},
      },
      spec,
    };
  }

  async function submitRun(db: Queryable, t: { name: string; package: RunConfig['package']; source: Record<string, any> }, caller: Caller): Promise<Run> {
    const config = legacyConfig(t.package, templateTask(t.source.spec).parameters, await admins(context));
    return runs.submit(db, { api: 'workflow', workflow: t.name, config, template: t.source, creator: creatorOf(caller) });
  }

  /** Create (and with `submit=true`, run) a template. */
  const create = (path: string) =>
    route({
      method: 'POST',
      path,
      guard: write,
      query: z.looseObject({ submit: z.string().optional() }),
      body: workflowBody,
      async handler(_ctx, { body, query, guard }) {
        const { pkg, ref } = packageOf(body);
        const name = body.metadata.name;
        checkName(name, ref);
        const submit = (query.submit ?? 'false').toLowerCase() === 'true';
        return pg.transaction(async (tx) => {
          const existing = await template(name, tx);
          if (existing && !existing.archived) throw conflict(`Workflow template ${name} already exists`);
          let spec: unknown = body.spec;
          let credentialId: string | undefined;
          const inline = (body.payload ?? []).find((p) => p.type === 'credential' || p.parameter === 'credentialGuid');
          if (inline) {
            const parsed = credentialBody.safeParse(inline.body);
            if (!parsed.success) throw badRequest(`Invalid workflow: payload credential: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
            credentialId = (await credentials.create(tx, parsed.data, guard.username)).id;
            spec = substituteCredential(spec, credentialId);
          }
          // Checks the parameters now, so a bad workflow is a 400 rather than a failed run.
          const config = legacyConfig(pkg, templateTask(spec).parameters, await admins(context));
          if (config.package === 'postgres' && config.extraction === 'direct') {
            if (!config.credentialId) throw badRequest(`Invalid workflow: direct extraction needs a credential (a payload entry of type credential, or a credential-guid parameter holding an existing credential's guid)`);
            if (!(await credentials.get(config.credentialId, tx))) throw badRequest(`Invalid workflow: credential ${config.credentialId} does not exist`);
            credentialId ??= config.credentialId;
          }
          const now = clock.now();
          const source = storedSource(body, spec, { at: now, uid: randomUUID() }, 1);
          await tx.query(
            `INSERT INTO atlan.workflows (name, package, source, credential_id, archived, created_at, updated_at) VALUES ($1, $2, $3, $4, false, $5, $5)
             ON CONFLICT (name) DO UPDATE SET package = EXCLUDED.package, source = EXCLUDED.source, credential_id = EXCLUDED.credential_id,
               archived = false, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at, seq = nextval('atlan.workflows_seq_seq')`,
            [name, pkg, JSON.stringify(source), credentialId ?? null, now],
          );
          if (submit) await runs.submit(tx, { api: 'workflow', workflow: name, config, template: source, creator: creatorOf(guard) });
          return { metadata: source.metadata, spec: source.spec, payload: [] };
        });
      },
    });

  const rerun = (path: string) =>
    route({
      method: 'POST',
      path,
      guard: write,
      body: rerunBody,
      async handler(_ctx, { body, guard }) {
        if (body.resourceKind !== undefined && body.resourceKind !== 'WorkflowTemplate') throw badRequest(`Invalid request: resourceKind must be WorkflowTemplate, not ${body.resourceKind}`);
        const t = await liveTemplate(body.resourceName);
        const run = await submitRun(pg.state, t, guard);
        const { metadata, spec, status } = runSource(run);
        return { metadata, spec, status };
      },
    });

  const update = (path: string) =>
    route({
      method: 'POST',
      path,
      guard: write,
      params: z.object({ name: z.string() }),
      body: workflowBody,
      async handler(_ctx, { params, body }) {
        const existing = await liveTemplate(params.name);
        if (body.metadata.name !== params.name) throw badRequest(`Invalid workflow: metadata.name '${body.metadata.name}' does not match the path's '${params.name}'`);
        const { pkg } = packageOf(body);
        if (pkg !== existing.package) throw badRequest(`Invalid workflow: ${params.name} runs ${existing.package}; an update cannot change its package`);
        // The credential stays: a placeholder in the new spec means the one the template has.
        const spec = existing.credentialId ? substituteCredential(body.spec, existing.credentialId) : body.spec;
        const config = legacyConfig(pkg, templateTask(spec).parameters, await admins(context));
        if (config.package === 'postgres' && config.extraction === 'direct' && !config.credentialId) {
          throw badRequest(`Invalid workflow: the template has no credential to put in place of ${CREDENTIAL_PLACEHOLDER}`);
        }
        const generation = Number(existing.source.metadata?.generation ?? 1) + 1;
        const source = storedSource(body, spec, { at: existing.createdAt, uid: String(existing.source.metadata?.uid) }, generation);
        await pg.state.query('UPDATE atlan.workflows SET source = $2, updated_at = $3 WHERE name = $1', [params.name, JSON.stringify(source), clock.now()]);
        return { metadata: source.metadata, spec: source.spec, payload: [] };
      },
    });

  const archive = (path: string) =>
    route({
      method: 'POST',
      path,
      guard: write,
      params: z.object({ name: z.string() }),
      async handler(_ctx, { params }) {
        const t = await liveTemplate(params.name);
        await pg.state.query('UPDATE atlan.workflows SET archived = true, updated_at = $2 WHERE name = $1', [params.name, clock.now()]);
        return { metadata: t.source.metadata, spec: t.source.spec, payload: [] };
      },
    });

  const searchTemplates = route({
    method: 'POST',
    path: '/workflows/indexsearch',
    guard: read,
    body: searchBody,
    async handler(_ctx, { body }) {
      const rows = (await pg.state.query('SELECT * FROM atlan.workflows WHERE NOT archived AND created_at <= $1 ORDER BY seq', [clock.now() - context.indexLagMs()])).rows;
      const docs: Doc[] = rows.map(toTemplate).map((t) => ({ id: t.name, source: t.source, seq: t.seq }));
      const { total, page } = search(docs, body, docContext(clock.now()));
      return esResponse('workflowtemplate', total, page, 1);
    },
  });

  const searchRuns = route({
    method: 'POST',
    path: '/runs/indexsearch',
    guard: read,
    body: searchBody,
    async handler(_ctx, { body }) {
      const docs: Doc[] = (await runs.list('workflow', context.indexLagMs())).map((run) => ({ id: run.name, source: runSource(run), seq: run.seq }));
      const { total, page } = search(docs, body, docContext(clock.now()));
      return esResponse('workflow', total, page, 1);
    },
  });

  const stop = route({
    method: 'POST',
    path: '/runs/:run/stop',
    guard: write,
    params: z.object({ run: z.string() }),
    async handler(_ctx, { params }) {
      const found = await runs.get(params.run);
      if (!found || found.api !== 'workflow') throw notFound(`Workflow run ${params.run} not found`);
      const stopped = (await runs.requestStop(params.run)) ?? found;
      const { metadata, spec, status } = runSource(stopped);
      return { metadata, spec, status };
    },
  });

  async function cronWorkflows(): Promise<Record<string, unknown>[]> {
    const rows = (await pg.state.query('SELECT * FROM atlan.workflows WHERE NOT archived ORDER BY seq')).rows.map(toTemplate);
    return rows.filter((t) => t.source.metadata?.annotations?.[SCHEDULE]).map(cronOf);
  }

  return [
    searchTemplates,
    rerun('/workflows/submit'),
    rerun('/package-workflows/submit'),
    rerun('/workflows/triggerAsOwner'),
    create('/workflows'),
    create('/package-workflows'),
    update('/workflows/:name'),
    update('/package-workflows/:name'),
    archive('/workflows/:name/archive'),
    archive('/package-workflows/:name/archive'),
    searchRuns,
    stop,
    route({ method: 'GET', path: '/runs/cron', guard: read, handler: async () => ({ items: await cronWorkflows() }) }),
    route({
      method: 'GET',
      path: '/runs/cron/:name',
      guard: read,
      params: z.object({ name: z.string() }),
      async handler(_ctx, { params }) {
        const found = (await cronWorkflows()).find((c) => (c.metadata as { name: string }).name === params.name);
        if (!found) throw notFound(`CronWorkflow ${params.name} not found`);
        return found;
      },
    }),
  ];
}

/** The CronWorkflow `<template>-cron` a template's schedule annotations stand for. */
function cronOf(t: Template): Record<string, unknown> {
  const annotations = t.source.metadata.annotations as Record<string, string>;
  return {
    metadata: {
      name: `${t.name}-cron`,
      namespace: 'default',
      uid: uidOf(`${t.name}-cron`),
      creationTimestamp: t.source.metadata.creationTimestamp,
      labels: t.source.metadata.labels,
      annotations,
    },
    spec: {
      schedule: annotations[SCHEDULE],
      timezone: annotations[TIMEZONE] ?? 'UTC',
      workflowSpec: { workflowTemplateRef: { name: t.name } },
      concurrencyPolicy: 'Allow',
      startingDeadlineSeconds: 0,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 1,
    },
    status: { active: null, conditions: null, lastScheduledTime: null },
    workflowMetadata: { labels: t.source.metadata.labels, annotations: { 'package.argoproj.io/name': annotations['package.argoproj.io/name'] ?? '' } },
  };
}

function docContext(now: number): SearchContext<Doc> {
  return {
    read: (doc, field) => (field === '_id' || field === '_id.keyword' ? { values: [doc.id] } : { values: readPath(doc.source, field) }),
    id: (doc) => doc.id,
    seq: (doc) => doc.seq,
    now,
  };
}

function toTemplate(row: Record<string, any>): Template {
  return {
    name: row.name,
    package: row.package,
    source: row.source,
    credentialId: row.credential_id ?? undefined,
    archived: row.archived,
    createdAt: Number(row.created_at),
    seq: Number(row.seq),
  };
}

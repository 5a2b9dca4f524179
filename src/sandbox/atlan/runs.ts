/**
 * Runs of both APIs and how they move on: a run is Pending for `pendingMs`, then Running for
 * `runMs`, then Succeeded or Failed, all measured on the injected clock. Nothing runs in the
 * background: every request first brings the runs up to date (`progress`), so a test advances a
 * ManualClock and the next request sees the new phase.
 *
 * When a crawl starts Running it creates (or revives) its Connection asset; the crawl itself
 * happens when the run's time is up, and decides how the run ends: the assets it found, or
 * Failed with the crawler's message (bad credentials, unreachable host, IAM auth, offline
 * extraction). A stop asks the run to end; `stopGraceMs` later it is Failed (legacy, with Argo's
 * message) or Stopped (App API), unless it finished first.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Clock } from '../clock';
import type { PostgresServer } from '../postgres';
import type { AssetStore } from './assets';
import { crawl, SourceError } from './crawler';
import { sourceOf, type CredentialStore, type Queryable } from './credentials';
import type { RunConfig } from './packages';

export type RunApi = 'workflow' | 'app';

export interface RunTimings {
  readonly pendingMs: number;
  readonly runMs: number;
  readonly stopGraceMs: number;
}

/** Who submitted a run (its creator labels). */
export interface RunCreator {
  readonly id: string;
  readonly username: string;
}

export interface Run {
  readonly name: string;
  readonly api: RunApi;
  /** The WorkflowTemplate's name (legacy) or the App's slug. */
  readonly workflow: string;
  readonly config: RunConfig;
  /** The template as it was at submit (legacy runs). */
  readonly template: Record<string, any> | undefined;
  readonly creator: RunCreator;
  readonly phase: string;
  readonly message: string | undefined;
  readonly createdAt: number;
  readonly runningAt: number;
  readonly finishAt: number;
  readonly finishedAt: number | undefined;
  readonly stopRequestedAt: number | undefined;
  readonly seq: number;
}

export const ACTIVE_PHASES = ['Pending', 'Running'];

/** Argo's message for a workflow stopped with `argo stop`. */
export const STOPPED_MESSAGE = "Stopped with strategy 'Stop'";

export class RunEngine {
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly pg: PostgresServer,
    private readonly clock: Clock,
    private readonly timings: () => RunTimings,
    private readonly credentials: CredentialStore,
    private readonly assets: AssetStore,
  ) {}

  /** Starts a run (Pending); `name` is the template name plus five random characters, as Argo's generateName. */
  async submit(db: Queryable, run: { api: RunApi; workflow: string; config: RunConfig; template?: unknown; creator: RunCreator }): Promise<Run> {
    const now = this.clock.now();
    const { pendingMs, runMs } = this.timings();
    const name = run.api === 'workflow' ? `${run.workflow}-${suffix()}` : randomUUID();
    const row = (
      await db.query(
        `INSERT INTO atlan.runs (name, api, workflow, config, template, creator, phase, created_at, running_at, finish_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'Pending', $7, $8, $9) RETURNING *`,
        [name, run.api, run.workflow, JSON.stringify(run.config), run.template === undefined ? null : JSON.stringify(run.template), JSON.stringify(run.creator), now, now + pendingMs, now + pendingMs + runMs],
      )
    ).rows[0];
    return toRun(row);
  }

  async get(name: string, db: Queryable = this.pg.state): Promise<Run | undefined> {
    const row = (await db.query('SELECT * FROM atlan.runs WHERE name = $1', [name])).rows[0];
    return row ? toRun(row) : undefined;
  }

  /** Runs of an API (visible in its index once `lagMs` old), oldest first. */
  async list(api: RunApi, lagMs = 0): Promise<Run[]> {
    return (await this.pg.state.query('SELECT * FROM atlan.runs WHERE api = $1 AND created_at <= $2 ORDER BY seq', [api, this.clock.now() - lagMs])).rows.map(toRun);
  }

  /** The active (Pending or Running) runs of a workflow or app. */
  async active(workflow: string, db: Queryable = this.pg.state): Promise<Run[]> {
    return (await db.query(`SELECT * FROM atlan.runs WHERE workflow = $1 AND phase IN ('Pending', 'Running') ORDER BY seq`, [workflow])).rows.map(toRun);
  }

  /** Asks an active run to stop; returns the run as it is now (still active). */
  async requestStop(name: string): Promise<Run | undefined> {
    const row = (
      await this.pg.state.query(
        `UPDATE atlan.runs SET stop_requested_at = coalesce(stop_requested_at, $2) WHERE name = $1 AND phase IN ('Pending', 'Running') RETURNING *`,
        [name, this.clock.now()],
      )
    ).rows[0];
    return row ? toRun(row) : undefined;
  }

  /** Ends an active run at once (the App API's cancel); returns it, or undefined if it was not active. */
  async cancel(name: string): Promise<Run | undefined> {
    const row = (
      await this.pg.state.query(
        `UPDATE atlan.runs SET phase = 'Stopped', message = 'Cancelled', finished_at = $2 WHERE name = $1 AND phase IN ('Pending', 'Running') RETURNING *`,
        [name, this.clock.now()],
      )
    ).rows[0];
    return row ? toRun(row) : undefined;
  }

  /** Brings every active run up to date with the clock, one caller at a time. */
  progress(): Promise<void> {
    const next = this.queue.then(() => this.progressNow());
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Resolves once no progress (and so no crawl) is under way. */
  settled(): Promise<void> {
    return this.queue;
  }

  private async progressNow(): Promise<void> {
    const active = (await this.pg.state.query(`SELECT * FROM atlan.runs WHERE phase IN ('Pending', 'Running') ORDER BY seq`)).rows.map(toRun);
    for (const run of active) await this.step(run);
  }

  /** Applies, in time order, what has come due: start, stop, finish. */
  private async step(run: Run): Promise<void> {
    const now = this.clock.now();
    const stopAt = run.stopRequestedAt === undefined ? undefined : run.stopRequestedAt + this.timings().stopGraceMs;
    if (run.phase === 'Pending' && now >= run.runningAt && (stopAt === undefined || stopAt > run.runningAt)) {
      await this.start(run);
      await this.setPhase(run.name, 'Running');
    }
    if (stopAt !== undefined && now >= stopAt && stopAt <= run.finishAt) {
      await this.finish(run.name, run.api === 'app' ? 'Stopped' : 'Failed', STOPPED_MESSAGE, stopAt);
      return;
    }
    if (now >= run.finishAt && now >= run.runningAt) {
      const failure = await this.execute(run);
      await this.finish(run.name, failure ? 'Failed' : 'Succeeded', failure, run.finishAt);
    }
  }

  private async setPhase(name: string, phase: string): Promise<void> {
    await this.pg.state.query('UPDATE atlan.runs SET phase = $2 WHERE name = $1', [name, phase]);
  }

  private async finish(name: string, phase: string, message: string | undefined, at: number): Promise<void> {
    await this.pg.state.query('UPDATE atlan.runs SET phase = $2, message = $3, finished_at = $4 WHERE name = $1', [name, phase, message ?? null, at]);
  }

  /** A crawl's first step: the Connection exists from here on, whatever the crawl finds. */
  private async start(run: Run): Promise<void> {
    if (run.config.package === 'postgres') await this.assets.upsertConnection(run.config.connection, run.creator.username);
  }

  /** Carries the run out; returns why it failed, or undefined. */
  private async execute(run: Run): Promise<string | undefined> {
    const { config } = run;
    if (config.package === 'connection-delete') {
      if (!(await this.assets.connection(config.connectionQualifiedName))) return `Connection ${config.connectionQualifiedName} does not exist`;
      await this.assets.deleteConnection(config.connectionQualifiedName, config.deleteType === 'PURGE', run.creator.username);
      return undefined;
    }
    if (config.extraction !== 'direct') {
      return `Extraction method '${config.extraction}' reads metadata files from an object store or a self-deployed agent, which the pgstacks sandbox does not have; use direct extraction`;
    }
    const credential = config.credentialId ? await this.credentials.get(config.credentialId) : undefined;
    if (!credential) return `Credential ${config.credentialId ?? '(none)'} does not exist; the crawler cannot connect`;
    const connectionQn = String(config.connection.qualifiedName);
    try {
      const drafts = await crawl(sourceOf(credential.body, credential.password), {
        connectionQualifiedName: connectionQn,
        connectionName: String(config.connection.name),
        include: config.include,
        exclude: config.exclude,
        tempTableRegex: config.tempTableRegex,
      });
      await this.assets.sync(connectionQn, drafts, run.creator.username);
      return undefined;
    } catch (error) {
      if (error instanceof SourceError) return error.message;
      throw error;
    }
  }
}

/** Argo's generateName suffix: five lowercase letters or digits. */
function suffix(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(5)].map((b) => alphabet[b % alphabet.length]).join('');
}

/** `2024-05-02T10:00:00Z`: Kubernetes timestamps have whole seconds. */
export function k8sTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A legacy run as the runs index and the run endpoints show it (an Argo Workflow). */
export function runSource(run: Run): Record<string, unknown> {
  const template = run.template ?? {};
  const completed = !ACTIVE_PHASES.includes(run.phase);
  const spec = template.spec ?? {};
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Workflow',
    metadata: {
      name: run.name,
      generateName: `${run.workflow}-`,
      namespace: 'default',
      uid: uidOf(run.name),
      resourceVersion: String(run.seq),
      generation: 1,
      creationTimestamp: k8sTime(run.createdAt),
      labels: {
        ...(template.metadata?.labels ?? {}),
        'workflows.argoproj.io/creator': run.creator.id,
        'workflows.argoproj.io/creator-email': '',
        'workflows.argoproj.io/creator-preferred-username': run.creator.username,
        'workflows.argoproj.io/phase': run.phase,
        'workflows.argoproj.io/workflow-template': run.workflow,
        'workflows.argoproj.io/completed': String(completed),
      },
      annotations: { ...(template.metadata?.annotations ?? {}) },
    },
    spec: { workflowTemplateRef: { name: run.workflow }, arguments: {} },
    status: {
      phase: run.phase,
      startedAt: k8sTime(run.createdAt),
      finishedAt: run.finishedAt === undefined ? null : k8sTime(run.finishedAt),
      progress: completed ? (run.phase === 'Succeeded' ? '1/1' : '0/1') : '0/1',
      ...(run.message ? { message: run.message } : {}),
      estimatedDuration: Math.round((run.finishAt - run.createdAt) / 1000),
      storedWorkflowTemplateSpec: { ...spec, workflowTemplateRef: { name: run.workflow } },
    },
  };
}

/** A stable uid for a name. */
export function uidOf(name: string): string {
  const hex = createHash('sha256').update(name).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function toRun(row: Record<string, any>): Run {
  return {
    name: row.name,
    api: row.api,
    workflow: row.workflow,
    config: row.config,
    template: row.template ?? undefined,
    creator: row.creator,
    phase: row.phase,
    message: row.message ?? undefined,
    createdAt: Number(row.created_at),
    runningAt: Number(row.running_at),
    finishAt: Number(row.finish_at),
    finishedAt: row.finished_at === null ? undefined : Number(row.finished_at),
    stopRequestedAt: row.stop_requested_at === null ? undefined : Number(row.stop_requested_at),
    seq: Number(row.seq),
  };
}

/**
 * The Lakebase resources as the emulator keeps them, and their wire form. A client writes `spec`;
 * GET answers with `status` (the effective values, ids included) and never echoes `spec`. States
 * that change with time (an endpoint starting, a synced table provisioning) are computed from the
 * clock when a resource is read.
 */
import type { EndpointType, RoleAuthMethod, RoleIdentityType, SyncedTableSchedulingPolicy, SyncedTableState } from '../../services/databricks';
import { duration, timestamp } from './wire';

export type Kind = 'project' | 'branch' | 'endpoint' | 'role' | 'database' | 'catalog' | 'synced_table';

/**
 * The operation a resource waits on: its kind, when it started and the duration it started with
 * (a shorter duration set for its kind later finishes it sooner).
 */
export interface Busy {
  readonly kind: Kind;
  readonly since: number;
  readonly delay: number;
  /** Which durations were set before it started: `<sandbox run>:<count>`. */
  readonly mark: string;
}

interface Base {
  readonly kind: Kind;
  /** The full resource name, e.g. `projects/p/branches/b`. */
  readonly name: string;
  /** The parent resource's name (branches, endpoints, roles, databases). */
  readonly parent?: string;
  readonly id: string;
  readonly createTime: number;
  updateTime: number;
}

/** Compute settings as a project's defaults and an endpoint hold them. */
export interface ComputeSettings {
  min_cu: number;
  max_cu: number;
  /** Seconds of inactivity before the compute suspends; absent with `no_suspension`. */
  suspend_seconds?: number;
  no_suspension?: boolean;
  pg_settings?: Record<string, string>;
}

export interface ProjectRecord extends Base {
  readonly kind: 'project';
  readonly uid: string;
  deleteTime?: number;
  purgeTime?: number;
  /** The creator: a user's email or a service principal's application id. */
  readonly owner: string;
  display_name: string;
  readonly pg_version: number;
  history_retention_seconds: number;
  default_endpoint_settings: ComputeSettings;
  budget_policy_id?: string;
  custom_tags?: Array<{ key: string; value: string }>;
  enable_pg_native_login: boolean;
  default_branch: string;
  compute_provisioner?: string;
}

export interface BranchRecord extends Base {
  readonly kind: 'branch';
  readonly parent: string;
  readonly uid: string;
  /** The branch's Postgres cluster, a directory under the sandbox's data directory. */
  readonly cluster: string;
  /** The project's first branch: it goes only with the project. */
  readonly root: boolean;
  isDefault: boolean;
  is_protected: boolean;
  expireTime?: number;
  readonly source?: { readonly branch: string; readonly lsn: string; readonly time: number };
  /** The operation that created the branch: INIT until it finishes. */
  readonly creating: Busy;
  stateChangeTime: number;
  deleteTime?: number;
  purgeTime?: number;
}

export interface EndpointRecord extends Base {
  readonly kind: 'endpoint';
  readonly parent: string;
  readonly uid: string;
  readonly endpoint_type: EndpointType;
  settings: ComputeSettings;
  disabled: boolean;
  group?: { min: number; max: number; enable_readable_secondaries?: boolean };
  /** Where its proxy listens: a loopback address of its own. */
  readonly address: string;
  /** The port its proxy listens on (the sandbox's endpoint port, or a free one). */
  port: number;
  /** Until the create operation finishes the endpoint is INIT; until an update's finishes it has a pending state. */
  readonly creating: Busy;
  updating?: Busy;
}

export interface RoleRecord extends Base {
  readonly kind: 'role';
  readonly parent: string;
  readonly postgres_role: string;
  readonly identity_type?: RoleIdentityType;
  readonly auth_method: RoleAuthMethod;
  membership_roles: string[];
  attributes: { createdb: boolean; createrole: boolean; bypassrls: boolean };
}

export interface DatabaseRecord extends Base {
  readonly kind: 'database';
  readonly parent: string;
  postgres_database: string;
  /** The owner role's resource name. */
  role: string;
}

export interface CatalogRecord extends Base {
  readonly kind: 'catalog';
  readonly uid: string;
  readonly branch: string;
  readonly postgres_database: string;
  readonly project: string;
}

export interface SyncedTableRecord extends Base {
  readonly kind: 'synced_table';
  readonly uid: string;
  readonly source_table_full_name: string;
  readonly primary_key_columns: string[];
  readonly timeseries_key?: string;
  readonly scheduling_policy: SyncedTableSchedulingPolicy;
  readonly branch: string;
  readonly project: string;
  readonly postgres_database: string;
  readonly schema: string;
  readonly table: string;
  readonly pipeline_id: string;
  /** How long provisioning takes, fixed at create (the sandbox option then in force). */
  readonly provisioningMs: number;
}

export type LakebaseRecord = ProjectRecord | BranchRecord | EndpointRecord | RoleRecord | DatabaseRecord | CatalogRecord | SyncedTableRecord;
export type RecordOf<K extends Kind> = Extract<LakebaseRecord, { kind: K }>;

/** What a view needs besides the record: the time, when operations finish, whether a branch's compute runs. */
export interface ViewContext {
  readonly now: number;
  doneAt(busy: Busy): number;
  isRunning(cluster: string): boolean;
}

/** The effective branch size limit the service reports (8 TiB). */
const BRANCH_SIZE_LIMIT_BYTES = 8_796_093_022_208;

function times(record: Base): Record<string, string> {
  return { create_time: timestamp(record.createTime), update_time: timestamp(record.updateTime) };
}

export function computeSettingsJson(settings: ComputeSettings, withNoSuspension: boolean): Record<string, unknown> {
  return {
    autoscaling_limit_min_cu: settings.min_cu,
    autoscaling_limit_max_cu: settings.max_cu,
    ...(settings.no_suspension ? (withNoSuspension ? { no_suspension: true } : {}) : { suspend_timeout_duration: duration(settings.suspend_seconds ?? 0) }),
    ...(settings.pg_settings && Object.keys(settings.pg_settings).length > 0 ? { pg_settings: settings.pg_settings } : {}),
  };
}

export function projectView(p: ProjectRecord): Record<string, unknown> {
  return {
    name: p.name,
    project_id: p.id,
    uid: p.uid,
    ...times(p),
    ...(p.deleteTime !== undefined ? { delete_time: timestamp(p.deleteTime), purge_time: timestamp(p.purgeTime!) } : {}),
    status: {
      project_id: p.id,
      display_name: p.display_name,
      pg_version: p.pg_version,
      history_retention_duration: duration(p.history_retention_seconds),
      default_endpoint_settings: computeSettingsJson(p.default_endpoint_settings, true),
      owner: p.owner,
      default_branch: p.default_branch,
      enable_pg_native_login: p.enable_pg_native_login,
      branch_logical_size_limit_bytes: BRANCH_SIZE_LIMIT_BYTES,
      synthetic_storage_size_bytes: 0,
      ...(p.budget_policy_id !== undefined ? { budget_policy_id: p.budget_policy_id } : {}),
      ...(p.custom_tags && p.custom_tags.length > 0 ? { custom_tags: p.custom_tags } : {}),
      ...(p.compute_provisioner !== undefined ? { compute_provisioner: p.compute_provisioner } : {}),
    },
  };
}

export function branchView(b: BranchRecord, view: ViewContext): Record<string, unknown> {
  const readyAt = view.doneAt(b.creating);
  const initializing = view.now < readyAt;
  const state = b.deleteTime !== undefined ? 'DELETED' : initializing ? 'INIT' : 'READY';
  return {
    name: b.name,
    branch_id: b.id,
    parent: b.parent,
    uid: b.uid,
    ...times(b),
    status: {
      branch_id: b.id,
      current_state: state,
      ...(initializing && b.deleteTime === undefined ? { pending_state: 'READY' } : {}),
      state_change_time: timestamp(initializing || b.deleteTime !== undefined ? b.stateChangeTime : Math.max(b.stateChangeTime, readyAt)),
      default: b.isDefault,
      is_protected: b.is_protected,
      logical_size_bytes: 0,
      ...(b.expireTime !== undefined ? { expire_time: timestamp(b.expireTime) } : {}),
      ...(b.source
        ? { source_branch: b.source.branch, source_branch_lsn: b.source.lsn, source_branch_time: timestamp(b.source.time) }
        : {}),
      ...(b.deleteTime !== undefined ? { delete_time: timestamp(b.deleteTime), purge_time: timestamp(b.purgeTime!) } : {}),
    },
  };
}

export function endpointView(e: EndpointRecord, cluster: string, view: ViewContext): Record<string, unknown> {
  const initializing = view.now < view.doneAt(e.creating);
  const pending = !initializing && e.updating !== undefined && view.now < view.doneAt(e.updating);
  // A running compute is ACTIVE; one that is not (never used since the sandbox started, or
  // disabled) is IDLE, as a suspended compute is.
  const settled = e.disabled || !view.isRunning(cluster) ? 'IDLE' : 'ACTIVE';
  const readOnly = e.endpoint_type === 'ENDPOINT_TYPE_READ_ONLY';
  return {
    name: e.name,
    endpoint_id: e.id,
    parent: e.parent,
    uid: e.uid,
    ...times(e),
    status: {
      endpoint_id: e.id,
      endpoint_type: e.endpoint_type,
      current_state: initializing ? 'INIT' : settled,
      ...(initializing || pending ? { pending_state: e.disabled ? 'IDLE' : 'ACTIVE' } : {}),
      ...computeSettingsJson(e.settings, false),
      disabled: e.disabled,
      settings: e.settings.pg_settings && Object.keys(e.settings.pg_settings).length > 0 ? { pg_settings: e.settings.pg_settings } : {},
      group: e.group ?? { min: 1, max: 1, enable_readable_secondaries: false },
      hosts: { host: e.address, ...(readOnly ? { read_only_host: e.address } : {}) },
    },
  };
}

export function roleView(r: RoleRecord): Record<string, unknown> {
  return {
    name: r.name,
    role_id: r.id,
    parent: r.parent,
    ...times(r),
    status: {
      role_id: r.id,
      postgres_role: r.postgres_role,
      identity_type: r.identity_type ?? 'IDENTITY_TYPE_UNSPECIFIED',
      auth_method: r.auth_method,
      ...(r.membership_roles.length > 0 ? { membership_roles: r.membership_roles } : {}),
      attributes: { ...r.attributes },
    },
  };
}

export function databaseView(d: DatabaseRecord): Record<string, unknown> {
  return {
    name: d.name,
    database_id: d.id,
    parent: d.parent,
    ...times(d),
    status: { database_id: d.id, postgres_database: d.postgres_database, role: d.role },
  };
}

export function catalogView(c: CatalogRecord): Record<string, unknown> {
  return {
    name: c.name,
    catalog_id: c.id,
    uid: c.uid,
    ...times(c),
    status: { branch: c.branch, postgres_database: c.postgres_database, project: c.project },
  };
}

/** The provisioning steps a synced table walks through, each a share of its provisioning time. */
const PROVISIONING_STEPS: ReadonlyArray<readonly [number, SyncedTableState]> = [
  [0.25, 'SYNCED_TABLE_PROVISIONING'],
  [0.5, 'SYNCED_TABLE_PROVISIONING_PIPELINE_RESOURCES'],
  [1, 'SYNCED_TABLE_PROVISIONING_INITIAL_SNAPSHOT'],
];

const ONLINE_STATE: Record<SyncedTableSchedulingPolicy, SyncedTableState> = {
  SNAPSHOT: 'SYNCED_TABLE_ONLINE',
  TRIGGERED: 'SYNCED_TABLE_ONLINE_NO_PENDING_UPDATE',
  CONTINUOUS: 'SYNCED_TABLE_ONLINE_CONTINUOUS_UPDATE',
};

/** The synced table's state at `now`: provisioning steps, then the policy's online state. */
export function syncedTableState(t: SyncedTableRecord, now: number): SyncedTableState {
  const elapsed = now - t.createTime;
  if (elapsed >= t.provisioningMs) return ONLINE_STATE[t.scheduling_policy];
  return PROVISIONING_STEPS.find(([share]) => elapsed < share * t.provisioningMs)![1];
}

export function syncedTableView(t: SyncedTableRecord, now: number): Record<string, unknown> {
  const state = syncedTableState(t, now);
  const online = state.startsWith('SYNCED_TABLE_ONLINE');
  const syncedAt = t.createTime + t.provisioningMs;
  return {
    name: t.name,
    synced_table_id: t.id,
    uid: t.uid,
    create_time: timestamp(t.createTime),
    status: {
      detailed_state: state,
      message: online ? 'The table is online; the sandbox has no Delta source, so it holds no synced rows.' : 'The sandbox is provisioning the table.',
      pipeline_id: t.pipeline_id,
      project: t.project,
      unity_catalog_provisioning_state: online ? 'ACTIVE' : 'PROVISIONING',
      ...(state === 'SYNCED_TABLE_PROVISIONING_INITIAL_SNAPSHOT' ? { provisioning_phase: 'PROVISIONING_PHASE_MAIN' } : {}),
      ...(online
        ? { last_sync: { sync_start_time: timestamp(t.createTime), sync_end_time: timestamp(syncedAt) }, last_sync_time: timestamp(syncedAt) }
        : {}),
    },
  };
}

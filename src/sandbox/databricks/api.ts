/** What every route of `/api/2.0/postgres` shares: the caller guard, paging, and spec checks between fields. */
import type { RequestContext } from '../http';
import type { DatabricksAuth, Identity } from './auth';
import { invalidParameter } from './errors';
import type { Lakebase } from './lakebase';
import type { ComputeSettings } from './model';
import type { DefaultEndpointSettings } from './schemas';
import type { Stored } from './store';
import { encodePageToken } from './wire';
import { LAKEBASE_LIMITS } from '../../services/databricks';

/** Authenticates the caller, then lets time catch up (purges and expiries due). */
export function callerGuard(auth: DatabricksAuth, lakebase: Lakebase): (ctx: RequestContext) => Promise<Identity> {
  return async (ctx) => {
    const identity = await auth.caller(ctx);
    await lakebase.sweep();
    return identity;
  };
}

/** One page of `items` (in creation order, already filtered) after `after`; `next_page_token` if more follow. */
export function page<R>(items: ReadonlyArray<Stored<R>>, size: number, after: number | undefined): { items: R[]; next_page_token?: string } {
  const rest = after === undefined ? items : items.filter((s) => s.seq > after);
  const taken = rest.slice(0, size);
  const more = rest.length > size;
  return { items: taken.map((s) => s.record), ...(more ? { next_page_token: encodePageToken(taken[taken.length - 1]!.seq) } : {}) };
}

/**
 * Merges compute settings from a spec into `base`, then checks the result: min ≤ max, at most
 * 16 CU apart, and a suspend timeout or no suspension, not both. `field` prefixes messages.
 */
export function mergeComputeSettings(base: ComputeSettings, spec: DefaultEndpointSettings | undefined, field: string, options: { maxSpread: boolean }): ComputeSettings {
  if (spec?.suspend_timeout_duration !== undefined && spec.no_suspension === true) {
    throw invalidParameter(`Only one of ${field}.suspend_timeout_duration and ${field}.no_suspension may be set`);
  }
  const merged: ComputeSettings = { ...base };
  if (spec?.autoscaling_limit_min_cu !== undefined) merged.min_cu = spec.autoscaling_limit_min_cu;
  if (spec?.autoscaling_limit_max_cu !== undefined) merged.max_cu = spec.autoscaling_limit_max_cu;
  if (spec?.suspend_timeout_duration !== undefined) {
    merged.suspend_seconds = spec.suspend_timeout_duration;
    delete merged.no_suspension;
  } else if (spec?.no_suspension === true) {
    merged.no_suspension = true;
    delete merged.suspend_seconds;
  } else if (spec?.no_suspension === false && merged.no_suspension) {
    // Turning no_suspension off brings the default timeout back.
    delete merged.no_suspension;
    merged.suspend_seconds = 86_400;
  }
  if (spec?.pg_settings !== undefined) merged.pg_settings = spec.pg_settings;
  checkComputeSettings(merged, field, options);
  return merged;
}

export function checkComputeSettings(settings: ComputeSettings, field: string, options: { maxSpread: boolean }): void {
  if (settings.min_cu > settings.max_cu) {
    throw invalidParameter(`${field}.autoscaling_limit_min_cu (${settings.min_cu}) must not exceed autoscaling_limit_max_cu (${settings.max_cu})`);
  }
  const { maxSpread } = LAKEBASE_LIMITS.computeUnits;
  if (options.maxSpread && settings.max_cu - settings.min_cu > maxSpread) {
    throw invalidParameter(`${field}: autoscaling_limit_max_cu - autoscaling_limit_min_cu must be at most ${maxSpread} CU, got ${settings.max_cu - settings.min_cu}`);
  }
}

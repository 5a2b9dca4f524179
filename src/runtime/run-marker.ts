/**
 * The run marker: how Terraform learns that the last engine run did not finish. Terraform cannot
 * tell by itself: it records the reconciler before its provisioner runs, so a run killed with
 * Terraform (a cancelled CI job) can look done. The reconciler's triggers therefore include the
 * marker's value, read at plan time. A run writes a fresh value when it starts and, once every
 * resource is applied, writes back the value it was planned with: a finished run leaves the plan
 * unchanged, and an unfinished one changes it, so the next apply runs the engine again.
 *
 * The marker is a file next to the local state directory (read with `file()`), with either store.
 */
import { removeIfExists, writeAtomically } from './files';

/** The marker's value when no run ever failed to finish (also when there is no marker). */
export const NO_UNFINISHED_RUN = 'none';

export interface RunMarker {
  /** Marks a run as started: until `finish`, the next plan sees a new value. */
  start(): Promise<void>;
  /** Marks the run as finished: the marker goes back to the value this run was planned with. */
  finish(plannedValue: string): Promise<void>;
  /** The stack is gone: so is its marker. */
  clear(): Promise<void>;
}

/** A value nobody planned with: when the run started, and by whom. */
const startedValue = () => `${new Date().toISOString()} pid ${process.pid}`;

export function fileRunMarker(file: string): RunMarker {
  return {
    start: async () => writeAtomically(file, startedValue(), { makeDirectory: true }),
    finish: async (planned) => writeAtomically(file, planned, { makeDirectory: true }),
    clear: async () => removeIfExists(file),
  };
}

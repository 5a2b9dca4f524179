/** The environment the stack's pgstacks resources give the handler (besides secrets). */
export const HANDLER_ENV = {
  /** The stack manifest file (every spec), relative to Terraform's working directory. */
  manifest: 'PGSTACKS_MANIFEST',
  /** The stack, for destroy. */
  stack: 'PGSTACKS_STACK',
  /** The run marker file Terraform reads at plan time (run-marker.ts). */
  runMarker: 'PGSTACKS_RUN_MARKER',
  /** The marker value the reconciler was planned with. */
  plannedRun: 'PGSTACKS_PLANNED_RUN',
} as const;

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
  /** The stack's Terraform deployment: its teardown resource's id. */
  deployment: 'PGSTACKS_DEPLOYMENT',
  /** The file where the teardown leaves its id when Terraform creates it: a new deployment. */
  newDeployment: 'PGSTACKS_NEW_DEPLOYMENT',
  /** The reconciler resource's id (from the reconciler itself: its run leaves it in `reconciled`). */
  reconciler: 'PGSTACKS_RECONCILER',
  /** The file the reconciler's finished run leaves its id in, for the rerun to skip a second run. */
  reconciled: 'PGSTACKS_RECONCILED',
  /** `true`: secret outputs may be stored in plain text when no state key is set. */
  plaintextSecrets: 'PGSTACKS_PLAINTEXT_SECRET_OUTPUTS',
} as const;

/** What the handler bundle can be asked to do (see handler.ts). */
export const HANDLER_COMMANDS = ['reconcile', 'destroy'] as const;
export type HandlerCommand = (typeof HANDLER_COMMANDS)[number];

/**
 * A Splitgraph-style versioning engine on plain PostgreSQL: commit a schema's tables into
 * content-addressed objects and images, check images out, and push and pull them between
 * engines. Every function takes a node-postgres client (`ClientBase`) and keeps no state of its
 * own; see README.md in this folder.
 */
export { SplitgraphError, type SplitgraphErrorCode } from './errors';
export { type TableRef } from './sql';
export { withClient } from './connection';
export { initializeEngine, isEngineInitialized, ENGINE_VERSION, type InitializeOptions } from './install';
export {
  runSql, runSqlBatch, getPrimaryKeys, getTableSchema, getTableSize, lockTable, dumpTableSql,
  type Column, type TableShape, type TableSizeOptions, type LockMode, type DumpTableSqlOptions,
} from './tables';
export {
  trackTables, untrackTables, getTrackedTables, hasPendingChanges, getChangedTables, getPendingChanges, discardPendingChanges,
  type PendingCounts, type UntrackOptions, type PendingChangesOptions,
} from './tracking';
export { type RowChange, type ChangeCounts } from './changes';
export {
  storeFragment, applyFragments, getObjectMeta,
  type ObjectMeta, type StoreFragmentOptions, type ApplyFragmentsOptions, type SqlFilter,
} from './fragments';
export { dumpObject, loadObject } from './object-io';
export { uploadObjects, downloadObjects, type RemoteEngine, type FdwAddress } from './transfer';
export {
  repositorySchema, resolveImage, repositoryExists, listRepositories, initRepository, commit, checkout,
  tagImage, deleteTag, listImages, log, status, diff, deleteRepository, cleanupObjects, getImageTables,
  HEAD, DEFAULT_CHUNK_ROWS,
  type RepositoryRef, type Image, type ImageTable, type TableCommit, type CommitOptions, type CommitResult,
  type CheckoutOptions, type TableStatus, type RepositoryStatus, type TableDiff, type DiffOptions, type DeleteRepositoryOptions,
} from './repository';
export { push, pull, type SyncOptions, type SyncResult } from './sync';

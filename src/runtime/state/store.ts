/**
 * The state store: pgstacks' record of what it did, one record per stack and logical id.
 * Terraform keeps only the lifecycle resources; the physical ids, outputs and the last applied
 * props live here.
 */
import type { Outputs } from '../resource-type';
import type { Json, JsonObject, ResourceSpec } from '../spec';
import type { Kdf, KeyCheck, SealedSecrets } from './secrets';

export type RecordStatus = 'creating' | 'ready' | 'deleting';

/** A remote object that must still be deleted (the old half of a replacement). */
export interface PendingDelete {
  readonly physicalId: string;
  readonly props: JsonObject;
}

export interface ResourceRecord {
  readonly stack: string;
  readonly id: string;
  readonly type: string;
  status: RecordStatus;
  /** Absent while a create is in flight (the intent record). */
  physicalId?: string;
  /** The spec as last applied. */
  spec: ResourceSpec;
  /** The props as last applied, references resolved, secrets still as markers. */
  props: JsonObject;
  outputs: Outputs;
  secretOutputs?: SealedSecrets;
  /**
   * Fingerprints of the secret values last applied, by environment variable: keyed with the state
   * key (`keyed`, derived as `kdf` says; absent in records of earlier versions: scrypt), or, made
   * without one or by an earlier version, scrypt hashes.
   */
  secretFingerprints?: { salt: string; keyed?: true; kdf?: Kdf; values: Record<string, string> };
  /** Logical ids this resource references (deleted after it). */
  dependencies: string[];
  /** Crash-recovery data a handler saved during an interrupted create. */
  checkpoint?: Json;
  pendingDeletes?: PendingDelete[];
  createdAt: string;
  updatedAt: string;
  handlerVersion: string;
}

/** What the store knows about a stack as a whole. */
export interface StackMeta {
  /**
   * The Terraform deployment the records belong to: the id of the stack's teardown resource,
   * which Terraform keeps for the stack's whole life. Records missing while it is known mean the
   * state was lost, not that the stack is new.
   */
  readonly deployment?: string;
  /** Verifies PGSTACKS_STATE_KEY before anything is written with it (the key is not stored). */
  readonly keyCheck?: KeyCheck;
}

export interface LockOptions {
  /** Told, every few seconds, who holds the lock while this caller waits for it. */
  readonly onWait?: (message: string) => void;
}

export interface StateStore {
  /** Where the records are, for messages. */
  readonly description: string;
  get(stack: string, id: string): Promise<ResourceRecord | undefined>;
  /** Writes a whole record atomically. */
  put(record: ResourceRecord): Promise<void>;
  /** Forgets a record; forgetting a missing one is not an error. */
  remove(stack: string, id: string): Promise<void>;
  list(stack: string): Promise<ResourceRecord[]>;
  stacks(): Promise<string[]>;
  getMeta(stack: string): Promise<StackMeta | undefined>;
  putMeta(stack: string, meta: StackMeta): Promise<void>;
  /** Runs `fn` holding the stack's exclusive lock (an engine run, state rm). */
  withLock<T>(stack: string, fn: () => Promise<T>, options?: LockOptions): Promise<T>;
}

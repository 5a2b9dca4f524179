export { ServiceConnection } from './connection';
export { Duration } from './duration';
export { ManagedResource, type ManagedResourceOptions } from './managed-resource';
export { Pgstacks, LifecycleResourceKind, type PgstacksOptions } from './pgstacks';
export { PropsValidationError } from './props';
export { RemovalPolicy } from './removal-policy';
export { Secret } from './secret';
export { StateBackend, type PostgresStateBackendOptions } from './state-backend';

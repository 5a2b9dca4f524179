/**
 * Every built-in resource type. Importing a type's module registers it with the handler, and the
 * handler bundle always includes this list, so prune can delete any built-in type a stack ever had.
 */
export { gatewayUserType } from './cognite/gateway-user';
export { gatewayRawTableType } from './cognite/gateway-raw-table';
export { gatewayViewTableType } from './cognite/gateway-view-table';
export { projectType as lakebaseProjectType } from './databricks/project';
export { branchType as lakebaseBranchType } from './databricks/branch';
export { endpointType as lakebaseEndpointType } from './databricks/endpoint';
export { roleType as lakebaseRoleType } from './databricks/role';
export { databaseType as lakebaseDatabaseType } from './databricks/database';
export { catalogType as lakebaseCatalogType } from './databricks/catalog';
export { syncedTableType as lakebaseSyncedTableType } from './databricks/synced-table';
export { credentialType as lakebaseCredentialType } from './databricks/credential';

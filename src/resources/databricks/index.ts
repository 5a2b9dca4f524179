/** The Databricks Lakebase resource types (importing a type's module registers it with the handler). */
export { projectType as lakebaseProjectType } from './project';
export { branchType as lakebaseBranchType } from './branch';
export { endpointType as lakebaseEndpointType } from './endpoint';
export { roleType as lakebaseRoleType } from './role';
export { databaseType as lakebaseDatabaseType } from './database';
export { catalogType as lakebaseCatalogType } from './catalog';
export { syncedTableType as lakebaseSyncedTableType } from './synced-table';
export { credentialType as lakebaseCredentialType } from './credential';

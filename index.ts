/** pgstacks: CDK for Terraform constructs for Postgres-facing services without a Terraform provider. */
export * from './constructs';
export { defineResourceType, type ResourceType, type HandlerContext } from './src/runtime/resource-type';

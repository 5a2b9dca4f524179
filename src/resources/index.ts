/**
 * Every built-in resource type. Importing a type's module registers it with the handler, and the
 * handler bundle always includes this list, so prune can delete any built-in type a stack ever had.
 */
export { gatewayUserType } from './cognite/gateway-user';
export { gatewayRawTableType } from './cognite/gateway-raw-table';
export { gatewayViewTableType } from './cognite/gateway-view-table';

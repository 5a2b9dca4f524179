/** The Cognite resource types (importing a type's module registers it with the handler). */
export { gatewayUserType } from './gateway-user';
export { gatewayRawTableType } from './gateway-raw-table';
export { gatewayViewTableType } from './gateway-view-table';

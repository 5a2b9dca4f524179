export { CogniteAuth, CogniteProject, type ClientCredentials, type ClientCredentialsAuthOptions, type CogniteProjectProps } from './project';
export { GatewayUser, type GatewayUserAttributes, type GatewayUserProps, type IGatewayUser } from './gateway-user';
export {
  GatewayRawTable,
  GatewayViewTable,
  type GatewayColumn,
  type GatewayColumnType,
  type GatewayRawTableProps,
  type GatewayTableProps,
  type GatewayViewTableProps,
  type ViewId,
} from './gateway-tables';

export { AtlanTenant, type AtlanApiChoice, type AtlanTenantFromEnvironmentOptions, type AtlanTenantProps } from './tenant';
export {
  PostgresCrawler,
  PostgresIamAuth,
  type PostgresCrawlerAdmins,
  type PostgresCrawlerProps,
  type PostgresCrawlerRunOnDeploy,
  type PostgresOfflineExtraction,
} from './postgres-crawler';

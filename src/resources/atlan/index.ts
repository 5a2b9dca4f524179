/** The Atlan resource types (importing a type's module registers it with the handler). */
export { postgresCrawlerType as atlanPostgresCrawlerType } from './postgres-crawler';

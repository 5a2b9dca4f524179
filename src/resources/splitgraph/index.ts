/** The Splitgraph resource types (importing a type's module registers it with the handler). */
export { engineType as splitgraphEngineType } from './engine';
export { repositoryType as splitgraphRepositoryType } from './repository';
export { snapshotType as splitgraphSnapshotType } from './snapshot';
export { pushType as splitgraphPushType } from './push';

export { PostgresConnection, type LakebaseConnectionProps, type PostgresConnectionProps, type PostgresSslMode } from './connection';
export {
  SplitgraphEngine,
  SplitgraphPush,
  SplitgraphRepository,
  SplitgraphSnapshot,
  type SplitgraphEngineProps,
  type SplitgraphPushProps,
  type SplitgraphRepositoryProps,
  type SplitgraphSnapshotProps,
} from './splitgraph';

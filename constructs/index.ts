export * from './core';
export * from './cognite';
export * from './databricks';
export * from './atlan';
export * from './splitgraph';

export * from './core';
export * from './cognite';
export * from './databricks';

export * from './core';
export * from './cognite';

/**
 * Stands in for node:assert in the handler bundle (bundle.ts). undici calls it as `assert(value)`
 * to check its own invariants, on every request; loading node:assert costs ~5 ms of every engine
 * run (it brings Node's deep-equality and error-message machinery). Here the check is one test,
 * and Node's assert is loaded only to report a check that fails, or when another of its functions
 * is used (by a stack's own resource types, bundled too).
 */
import type * as NodeAssert from 'node:assert';

// 'assert', not 'node:assert': the bundle maps the latter to this file.
const nodeAssert = () => require('assert') as typeof NodeAssert;

const assert = (value: unknown, message?: string | Error): void => {
  if (value) return;
  const report: (value: unknown, message?: string | Error) => void = nodeAssert().ok;
  report(value, message ?? 'The expression evaluated to a falsy value (the stack shows where)');
};

/** node:assert's exports (Node 20), each read from the real module when first used. */
const EXPORTS = [
  'fail', 'AssertionError', 'ok', 'equal', 'notEqual', 'deepEqual', 'notDeepEqual', 'deepStrictEqual', 'notDeepStrictEqual', 'strictEqual',
  'notStrictEqual', 'throws', 'rejects', 'doesNotThrow', 'doesNotReject', 'ifError', 'match', 'doesNotMatch', 'CallTracker', 'strict',
] as const;
for (const name of EXPORTS) {
  Object.defineProperty(assert, name, { enumerable: true, configurable: true, get: () => nodeAssert()[name] });
}

export = assert;

/** Reading state records back: anything but a whole record is a CorruptRecordError saying how to repair it. */
import { CorruptRecordError, parseRecord, parseRecordText } from '../../src/runtime/state/records';
import type { ResourceRecord } from '../../src/runtime/state/store';

const where = { stack: 'my stack', id: 'db/main', location: '/state/my%20stack/db%2Fmain.json' };

const record = (): ResourceRecord => ({
  stack: 'my stack',
  id: 'db/main',
  type: 'test:widget',
  status: 'ready',
  physicalId: 'w-123',
  spec: { type: 'test:widget', stack: 'my stack', id: 'db/main', props: { size: 2 }, removalPolicy: 'retain', allowReplacement: false, aliases: [] },
  props: { size: 2 },
  outputs: { host: 'h', port: 5432, tls: true, note: null },
  secretOutputs: { encrypted: false, values: { password: 'p' } },
  secretFingerprints: { salt: 'c2FsdA==', values: { PW: 'abc' } },
  dependencies: ['net'],
  checkpoint: { step: 1 },
  pendingDeletes: [{ physicalId: 'w-old', props: {} }],
  createdAt: '2024-01-01T00:00:00.000Z',
  updatedAt: '2024-01-01T00:00:00.000Z',
  handlerVersion: '1',
});

/** The error parseRecordText throws for `text`. */
function corrupt(text: string): CorruptRecordError {
  try {
    parseRecordText(text, where);
  } catch (err) {
    expect(err).toBeInstanceOf(CorruptRecordError);
    const error = err as CorruptRecordError;
    // Every message names the record, where it is and both repairs, ready to paste.
    expect(error.message).toContain(`logical id 'db/main' in stack 'my stack'`);
    expect(error.message).toContain(where.location);
    expect(error.message).toContain('restore the record from a backup');
    expect(error.message).toContain(`\`pgstacks state rm 'my stack' db/main\``);
    expect(error.message).toContain(`pgstacks state import 'my stack' db/main`);
    expect(error.where).toEqual(where);
    return error;
  }
  throw new Error(`parsed: ${text}`);
}

test('truncated JSON is corrupt, and the physical id it still shows goes into the import command', () => {
  const text = JSON.stringify(record(), null, 2);
  const error = corrupt(text.slice(0, text.indexOf('"spec"') + 10));
  expect(error.problem).toMatch(/^it is not valid JSON \(truncated\?\)/);
  expect(error.message).toContain(`\`pgstacks state import 'my stack' db/main w-123\``);
});

test('the JSON error does not quote the text, which may hold secret outputs', () => {
  const error = corrupt('{"secretOutputs": {"encrypted": false, "values": {"pw": hunter2}}}');
  expect(error.message).not.toContain('hunter2');
  expect(error.problem).toBe(`it is not valid JSON (truncated?): Unexpected token 'h'`);
  // V8 elides long snippets with "..." on either side.
  const long = corrupt(`{"a": "${'x'.repeat(40)}", "b": hunter2${'y'.repeat(40)}}`);
  expect(long.problem).toBe(`it is not valid JSON (truncated?): Unexpected token 'h'`);
});

test('an empty file is corrupt', () => {
  expect(corrupt('').problem).toBe('it is empty');
});

test('null, {} and [] are corrupt', () => {
  expect(corrupt('null').problem).toBe('it is null, not a record');
  expect(corrupt('{}').problem).toBe('it is an empty object ({})');
  expect(corrupt('[]').problem).toBe('it is an array ([]), not a record');
  expect(corrupt('"x"').problem).toBe('it is a string, not a record');
  // Without a physical id the import command has a placeholder.
  expect(corrupt('null').message).toContain('<physical id>`');
});

test('a missing or invalid field is named', () => {
  const { type, ...noType } = record();
  expect(type).toBeDefined();
  const error = corrupt(JSON.stringify(noType));
  expect(error.problem).toBe('type: missing');
  expect(error.message).toContain('db/main w-123`');

  const bad = { ...record(), status: 'done', outputs: { x: { nested: 1 } }, spec: { ...record().spec, removalPolicy: undefined } };
  expect(corrupt(JSON.stringify(bad)).problem).toBe(
    'status: expected one of "creating"|"ready"|"deleting" (got "done"); spec.removalPolicy: missing; outputs.x: Invalid input (got an object)',
  );
  expect(corrupt(JSON.stringify({ ...record(), dependencies: 'net' })).problem).toBe('dependencies: expected array (got "net")');
});

test('a record stored under another name is corrupt', () => {
  expect(() => parseRecord({ ...record(), id: 'db/other' }, where)).toThrow(/it belongs to logical id 'db\/other' in stack 'my stack'/);
});

test('a valid record parses as it is, unknown fields included', () => {
  expect(parseRecordText(JSON.stringify(record()), where)).toEqual(record());
  const newer = { ...record(), addedLater: { x: 1 }, spec: { ...record().spec, alsoNew: true } };
  expect(parseRecord(JSON.parse(JSON.stringify(newer)), where)).toEqual(newer);
  // Optional fields may be absent; the spec's defaulted fields are filled in.
  const { physicalId, secretOutputs, secretFingerprints, checkpoint, pendingDeletes, ...minimal } = record();
  expect([physicalId, secretOutputs, secretFingerprints, checkpoint, pendingDeletes].every((v) => v !== undefined)).toBe(true);
  const { allowReplacement, aliases, ...oldSpec } = minimal.spec;
  expect([allowReplacement, aliases]).toEqual([false, []]);
  expect(parseRecord({ ...minimal, status: 'creating', spec: oldSpec }, where)).toEqual({ ...minimal, status: 'creating' });
});

test('encrypted secret outputs validate', () => {
  const sealed = { encrypted: true, names: ['pw'], alg: 'aes-256-gcm', kdf: 'scrypt', salt: 's', iv: 'i', tag: 't', data: 'd' };
  expect(parseRecord({ ...record(), secretOutputs: sealed }, where).secretOutputs).toEqual(sealed);
  expect(corrupt(JSON.stringify({ ...record(), secretOutputs: { ...sealed, data: undefined } })).problem).toBe('secretOutputs.data: missing');
  // Invalid secret values are not echoed.
  const leaky = corrupt(JSON.stringify({ ...record(), secretOutputs: { encrypted: false, values: { pw: 12345678 } } }));
  expect(leaky.problem).toBe('secretOutputs.values.pw: expected string');
});

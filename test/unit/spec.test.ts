/** The spec's encodings: what Terraform stores and what the handler reads back. */
import { decodeSpec, encodeTriggers, type ResourceSpec } from '../../src/runtime/spec';
import { diffProps, isImmutable } from '../../src/runtime/engine';

const spec: ResourceSpec = {
  type: 'test:widget',
  stack: 's',
  id: 'team/a',
  props: { size: 1, name: 'a', options: { b: [1, 2], a: { $secret: { fromEnv: 'X' } } } },
  removalPolicy: 'retain',
  allowReplacement: true,
  aliases: ['old/a'],
};

test.each(['object', 'strings'] as const)('a spec survives the %s encoding (terraform_data / null_resource)', (format) => {
  const triggers = encodeTriggers(spec, format);
  if (format === 'strings') for (const value of Object.values(triggers)) expect(typeof value).toBe('string');
  expect(decodeSpec(JSON.stringify(triggers))).toEqual(spec);
});

test('defaults are left out of the triggers and restored when decoded', () => {
  const plain: ResourceSpec = { ...spec, allowReplacement: false, aliases: [] };
  const triggers = encodeTriggers(plain, 'object');
  expect(triggers).not.toHaveProperty('allowReplacement');
  expect(triggers).not.toHaveProperty('aliases');
  expect(decodeSpec(JSON.stringify(triggers))).toEqual(plain);
});

test('keys are sorted, so equal specs encode equally', () => {
  expect(JSON.stringify(encodeTriggers({ ...spec, props: { b: 1, a: 2 } }, 'object'))).toBe(
    JSON.stringify(encodeTriggers({ ...spec, props: { a: 2, b: 1 } }, 'object')),
  );
});

test('a missing or malformed spec is a clear error', () => {
  expect(() => decodeSpec(undefined)).toThrow('PGSTACKS_SPEC is not set');
  expect(() => decodeSpec('{"type":"x"}')).toThrow();
});

test('diffs are per leaf path; markers are leaves; a parent path covers its children', () => {
  expect(diffProps({ a: 1, o: { x: 1, y: [1, 2] } }, { a: 1, o: { x: 2, y: [1, 3] }, n: true })).toEqual(['n', 'o.x', 'o.y.1']);
  expect(diffProps({ s: { $secret: { fromEnv: 'A' } } }, { s: { $secret: { fromEnv: 'B' } } })).toEqual(['s']);
  expect(isImmutable('options.database', ['options'])).toBe(true);
  expect(isImmutable('options', ['options.database'])).toBe(true);
  expect(isImmutable('size', ['name'])).toBe(false);
  expect(isImmutable('size', ['*'])).toBe(true);
});

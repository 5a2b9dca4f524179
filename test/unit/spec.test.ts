/** The spec's encodings, the manifest, prop diffs and deploy-time resolution. */
import { diffProps, isImmutable } from '../../src/runtime/plan';
import { resolveProps, substituteSecrets } from '../../src/runtime/resolve';
import { encodeTriggers, parseManifest, type ResourceSpec } from '../../src/runtime/spec';
import { VERSION } from '../../src/version';

const spec: ResourceSpec = {
  type: 'test:widget',
  stack: 's',
  id: 'team/a',
  props: { size: 1, name: 'a', options: { b: [1, 2], a: { $secret: { fromEnv: 'X' } } } },
  removalPolicy: 'retain',
  allowReplacement: true,
  aliases: ['old/a'],
};

test('the trigger is the spec as one JSON string (Terraform still diffs it field by field)', () => {
  const triggers = encodeTriggers(spec);
  expect(Object.keys(triggers)).toEqual(['spec']);
  expect(JSON.parse(triggers.spec)).toEqual({ type: 'test:widget', id: 'team/a', props: spec.props, removalPolicy: 'retain', allowReplacement: true, aliases: ['old/a'] });
});

test('defaults are left out of the triggers', () => {
  const decoded = JSON.parse(encodeTriggers({ ...spec, allowReplacement: false, aliases: [] }).spec);
  expect(decoded).not.toHaveProperty('allowReplacement');
  expect(decoded).not.toHaveProperty('aliases');
  expect(decoded).not.toHaveProperty('stack');
});

test('keys are sorted, so equal specs encode equally', () => {
  expect(JSON.stringify(encodeTriggers({ ...spec, props: { b: 1, a: 2 } }))).toBe(JSON.stringify(encodeTriggers({ ...spec, props: { a: 2, b: 1 } })));
});

test('a manifest is parsed with defaults; a malformed one names its file', () => {
  const { allowReplacement, aliases, ...minimal } = spec;
  void allowReplacement;
  void aliases;
  expect(parseManifest(JSON.stringify({ stack: 's', resources: [minimal] }), 'm.json').resources[0]).toEqual({ ...spec, allowReplacement: false, aliases: [] });
  expect(() => parseManifest('{"stack":', 'm.json')).toThrow(/the stack manifest m\.json is not valid JSON/);
  expect(() => parseManifest('{"stack":"s","resources":[{"type":"x"}]}', 'm.json')).toThrow(/the stack manifest m\.json is malformed: resources\.0\.id/);
  // A resource's stack is the manifest's unless it names one: the lifecycle resources' spec text is the manifest's.
  const { stack, ...withoutStack } = minimal;
  expect(parseManifest(JSON.stringify({ stack, resources: [withoutStack] }), 'm.json').resources[0]).toEqual({ ...spec, allowReplacement: false, aliases: [] });
});

test('diffs are per leaf path; markers are leaves; a parent path covers its children', () => {
  expect(diffProps({ a: 1, o: { x: 1, y: [1, 2] } }, { a: 1, o: { x: 2, y: [1, 3] }, n: true })).toEqual(['n', 'o.x', 'o.y.1']);
  expect(diffProps({ s: { $secret: { fromEnv: 'A' } } }, { s: { $secret: { fromEnv: 'B' } } })).toEqual(['s']);
  expect(isImmutable('options.database', ['options'])).toBe(true);
  expect(isImmutable('options', ['options.database'])).toBe(true);
  expect(isImmutable('size', ['name'])).toBe(false);
  expect(isImmutable('size', ['*'])).toBe(true);
});

describe('resolution', () => {
  const outputs: Record<string, { value: string; secret: boolean }> = { 'user.name': { value: 'u1', secret: false }, 'user.password': { value: 'pw-123456', secret: true } };
  const sources = (env: Record<string, string> = {}) => ({
    ref: (ref: { resource: string; attribute: string }) => {
      const found = outputs[`${ref.resource}.${ref.attribute}`];
      return found ? { known: true as const, ...found } : { known: false as const, why: 'later' };
    },
    env: (name: string) => env[name],
  });

  test('public references are filled in; secrets and secret references stay markers in the stored form', () => {
    const props = {
      user: { $ref: { resource: 'user', attribute: 'name' } },
      dsn: { $concat: ['postgres://', { $ref: { resource: 'user', attribute: 'name' } }, ':', { $ref: { resource: 'user', attribute: 'password' } }, '@h/db'] },
      key: { $secret: { fromEnv: 'KEY' } },
      port: { $tf: 'PGSTACKS_TF_0' },
    };
    const resolved = resolveProps(props, sources({ KEY: 'k-secret', PGSTACKS_TF_0: '5432' }));
    expect(resolved.props).toEqual({
      user: 'u1',
      dsn: { $concat: ['postgres://u1:', { $ref: { resource: 'user', attribute: 'password' } }, '@h/db'] },
      key: { $secret: { fromEnv: 'KEY' } },
      port: 5432,
    });
    expect([...resolved.secrets]).toEqual([['user.password', 'pw-123456'], ['KEY', 'k-secret']]);
    expect(substituteSecrets(resolved.props, resolved.secrets)).toEqual({ user: 'u1', dsn: 'postgres://u1:pw-123456@h/db', key: 'k-secret', port: 5432 });
  });

  test('unknown references and missing variables are reported, not thrown', () => {
    const resolved = resolveProps({ a: { $ref: { resource: 'later', attribute: 'x' } }, b: { $secret: { fromEnv: 'NOPE' } } }, sources());
    expect(resolved.unknown).toEqual(['a']);
    expect(resolved.missing).toEqual(['NOPE']);
  });
});

test('the version records carry is the package version', () => {
  expect(VERSION).toBe((require('../../package.json') as { version: string }).version);
});

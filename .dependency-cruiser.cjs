/**
 * The boundaries of the kit, checked by `npm test` (dependency-cruiser): the runtime and the
 * construct core name no service; constructs use no client or sandbox; clients and the sandbox
 * stay apart; the sandbox uses none of the resources or clients. (That synth loads no HTTP client
 * at all is checked at run time: test/unit/boundaries.test.ts.)
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'runtime-names-no-service',
      comment: 'The lifecycle engine, state store and handler serve every service alike.',
      severity: 'error',
      from: { path: '^src/runtime/' },
      to: { path: '^(src/(resources|clients|sandbox|services)|constructs)/' },
    },
    {
      name: 'construct-core-names-no-service',
      severity: 'error',
      from: { path: '^constructs/core/' },
      to: { path: '^(constructs/(?!core/)|src/(resources|clients|sandbox|services)/)' },
    },
    {
      name: 'constructs-use-no-client-or-sandbox',
      comment: 'Synth must not load HTTP clients or the emulators.',
      severity: 'error',
      from: { path: '^constructs/' },
      to: { path: '^src/(clients|sandbox)/' },
    },
    {
      name: 'clients-use-no-sandbox',
      severity: 'error',
      from: { path: '^src/clients/' },
      to: { path: '^src/sandbox/' },
    },
    {
      name: 'sandbox-uses-no-resources-or-clients',
      comment: 'The sandbox emulates the services; it must not lean on the code it is the test bed for.',
      severity: 'error',
      from: { path: '^src/sandbox/' },
      to: { path: '^(src/(resources|clients|runtime)|constructs)/' },
    },
    {
      name: 'splitgraph-stands-alone',
      comment: 'The versioning engine is a library the constructs and CLI build on, not the other way round.',
      severity: 'error',
      from: { path: '^src/splitgraph/' },
      to: { path: '^(src/(runtime|sandbox|resources|clients)|constructs)/' },
    },
    {
      name: 'no-circular',
      comment: 'Type-only imports may go both ways; code may not.',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    exclude: { path: '^(node_modules|lib|test|bench|examples|scripts)/' },
  },
};

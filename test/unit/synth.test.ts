/**
 * Synth: the JSON each lifecycle-resource mode produces, validation errors, and secrets.
 */
import { App, DataResource as TerraformData, TerraformStack, TerraformVariable, Testing } from 'cdktf';
import { Construct } from 'constructs';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LifecycleResourceKind, Pgstacks, RemovalPolicy, Secret } from '../../constructs/core';
import { Gadget, Widget } from '../support/widget';
import { WidgetServer } from '../support/widget-server';

const endpoint = 'http://127.0.0.1:9';

function synth(build: (stack: TerraformStack) => void): any {
  const app = Testing.app();
  const stack = new TerraformStack(app, 'test');
  build(stack);
  return JSON.parse(Testing.synth(stack));
}

describe('terraform_data mode (default)', () => {
  const json = synth((stack) => {
    const a = new Widget(stack, 'a', { endpoint, name: 'alpha', size: 1 });
    new Widget(stack, 'b', { endpoint, name: 'beta', size: 2, label: `child-of-${a.widgetId}`, removalPolicy: RemovalPolicy.RETAIN, aliases: ['old-b'] });
  });
  const resources = json.resource.terraform_data;

  test('one lifecycle resource per construct, named after its logical id, plus the reconciler, the rerun, the start and the teardown', () => {
    expect(Object.keys(resources).sort()).toEqual(['a', 'b', 'pgstacks', 'pgstacks_rerun', 'pgstacks_start', 'pgstacks_teardown']);
    expect(json.resource.null_resource).toBeUndefined();
  });

  test('the spec goes into triggers_replace as one JSON string, without defaults; the lifecycle resources run nothing', () => {
    expect(resources.a).toEqual({
      triggers_replace: { spec: JSON.stringify({ id: 'a', props: { endpoint, name: 'alpha', size: 1 }, removalPolicy: 'destroy', type: 'test:widget' }) },
      // After the start resource, which Terraform creates with the reconciler: the engine run overlaps them.
      depends_on: ['terraform_data.pgstacks_start'],
    });
    expect(resources.pgstacks_start).toEqual({ triggers_replace: { stack: 'test' }, depends_on: ['terraform_data.pgstacks_teardown'] });
    expect(JSON.parse(resources.b.triggers_replace.spec)).toMatchObject({
      removalPolicy: 'retain',
      aliases: ['old-b'],
      props: { label: { $concat: ['child-of-', { $ref: { resource: 'a', attribute: 'id' } }] } },
    });
  });

  test('the reconciler runs the engine over the manifest when it changed, alongside the lifecycle resources', () => {
    const reconciler = resources.pgstacks;
    const marker = reconciler.provisioner[0]['local-exec'].environment.PGSTACKS_RUN_MARKER;
    expect(marker).toMatch(/^(\.\.\/)+.*\.pgstacks\/state\/test\/\.unfinished-run$/);
    expect(reconciler.triggers_replace).toEqual({
      manifest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      unfinished_run: `\${fileexists("${marker}") ? trimspace(file("${marker}")) : "none"}`,
    });
    expect(reconciler.lifecycle).toBeUndefined();
    expect(reconciler.depends_on).toEqual(['terraform_data.pgstacks_teardown']);
    expect(reconciler.provisioner).toEqual([
      {
        'local-exec': {
          command: expect.stringMatching(/^exec node --liftoff-only --min-semi-space-size=16 --interrupt-budget=1048576 assets\/.+\/pgstacks-handler\.js reconcile$/),
          quiet: true,
          environment: {
            PGSTACKS_MANIFEST: expect.stringMatching(/^assets\/.+\/pgstacks-manifest\.json$/),
            PGSTACKS_PLANNED_RUN: '${self.triggers_replace.unfinished_run}',
            PGSTACKS_DEPLOYMENT: '${terraform_data.pgstacks_teardown.id}',
            PGSTACKS_NEW_DEPLOYMENT: expect.stringMatching(/^\.\..*\/test\/\.new-deployment$/),
            PGSTACKS_RECONCILER: '${self.id}',
            PGSTACKS_RECONCILED: expect.stringMatching(/^\.\..*\/test\/\.reconciled$/),
            PGSTACKS_STACK: 'test',
            PGSTACKS_RUN_MARKER: expect.stringMatching(/^\.\..*\/test\/\.unfinished-run$/),
            PGSTACKS_DEFAULT_STATE_DIR: expect.stringMatching(/^\.\..*\.pgstacks\/state$/),
          },
        },
      },
    ]);
  });

  test('the rerun comes after all, and runs the engine when a lifecycle resource was replaced without the reconciler', () => {
    const rerun = resources.pgstacks_rerun;
    expect(rerun.triggers_replace).toEqual({ reconciler: '${terraform_data.pgstacks.id}' });
    expect(rerun.lifecycle).toEqual({ replace_triggered_by: ['terraform_data.a', 'terraform_data.b'] });
    const run = rerun.provisioner[0]['local-exec'];
    expect(run.command).toMatch(
      /^\{ read -r ran < "\$PGSTACKS_RECONCILED"; \} 2>\/dev\/null; if \[ "\$ran" = "\$PGSTACKS_RECONCILER" \]; then : > "\$PGSTACKS_RECONCILED"; else unset PGSTACKS_RECONCILER; exec node --liftoff-only --min-semi-space-size=16 --interrupt-budget=1048576 assets\/.+\/pgstacks-handler\.js reconcile; fi$/,
    );
    expect(run.environment).toMatchObject({
      PGSTACKS_RECONCILER: '${terraform_data.pgstacks.id}',
      PGSTACKS_PLANNED_RUN: '${terraform_data.pgstacks.triggers_replace.unfinished_run}',
      PGSTACKS_RECONCILED: resources.pgstacks.provisioner[0]['local-exec'].environment.PGSTACKS_RECONCILED,
    });
  });

  test('the teardown leaves its id for the engine when created, never fails the apply, and deletes the stack on destroy', () => {
    const teardown = resources.pgstacks_teardown;
    expect(teardown.triggers_replace).toEqual({ stack: 'test' });
    // Only lifecycle resources holding other Terraform resources' values (none here) go first.
    expect(teardown.depends_on ?? []).toEqual([]);
    expect(teardown.lifecycle).toEqual({ create_before_destroy: true });
    const env = { PGSTACKS_STACK: 'test', PGSTACKS_RUN_MARKER: expect.any(String), PGSTACKS_DEFAULT_STATE_DIR: expect.stringMatching(/\.pgstacks\/state$/) };
    expect(teardown.provisioner.map((p: any) => p['local-exec'])).toEqual([
      {
        command: `umask 077 && mkdir -p "$\${PGSTACKS_NEW_DEPLOYMENT%/*}" && printf '%s\\n' "$PGSTACKS_DEPLOYMENT" > "$PGSTACKS_NEW_DEPLOYMENT"`,
        on_failure: 'continue',
        quiet: true,
        environment: { PGSTACKS_DEPLOYMENT: '${self.id}', PGSTACKS_NEW_DEPLOYMENT: expect.stringMatching(/\/test\/\.new-deployment$/) },
      },
      { command: expect.stringMatching(/ destroy$/), when: 'destroy', quiet: true, environment: env },
    ]);
  });

  test('nested constructs get readable, unique Terraform names', () => {
    const nested = synth((stack) => {
      const group = new Construct(stack, 'team');
      new Widget(group, 'a', { endpoint, name: 'alpha', size: 1 });
      new Widget(stack, 'team_a', { endpoint, name: 'beta', size: 1 });
    });
    const names = Object.keys(nested.resource.terraform_data).sort();
    expect(names).toEqual(['pgstacks', 'pgstacks_rerun', 'pgstacks_start', 'pgstacks_teardown', 'team_a', expect.stringMatching(/^team_a_[0-9a-f]{8}$/)]);
  });

  test('a native resource with the Terraform name of a lifecycle resource is refused, not merged into it', () => {
    expect(() =>
      synth((stack) => {
        new Widget(stack, 'a', { endpoint, name: 'alpha', size: 1 });
        new TerraformData(stack, 'native').overrideLogicalId('a');
      }),
    ).toThrow("test/native: its Terraform name terraform_data.a is also the name of the pgstacks resource 'a'; give one of them another id");
  });

  test('a native resource that depends on a pgstacks construct waits for the engine run', () => {
    const withNative = synth((stack) => {
      const a = new Widget(stack, 'a', { endpoint, name: 'alpha', size: 1 });
      new TerraformData(stack, 'after', { dependsOn: [a] });
    });
    expect(withNative.resource.terraform_data.after.depends_on).toEqual(['terraform_data.pgstacks_rerun']);
  });

  test('literal strings are escaped so Terraform never evaluates them; Terraform values reach the engine', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-synth-'));
    const app = new App({ outdir });
    const stack = new TerraformStack(app, 'test');
    const label = new TerraformVariable(stack, 'label', { type: 'string' });
    new Widget(stack, 'a', { endpoint, name: 'alpha', size: 1, label: '${file("/etc/passwd")} %{if x}' });
    new Widget(stack, 'b', { endpoint, name: 'beta', size: 1, label: `v-${label.stringValue}` });
    app.synth();
    const stackDir = path.join(outdir, 'stacks/test');
    const tf = JSON.parse(fs.readFileSync(path.join(stackDir, 'cdk.tf.json'), 'utf8')).resource.terraform_data;
    expect(JSON.parse(tf.a.triggers_replace.spec).props.label).toBe('$${file("/etc/passwd")} %%{if x}');
    expect(JSON.parse(tf.b.triggers_replace.spec).props.label).toBe('v-${var.label}');
    // b holds a variable's value: on destroy, the teardown runs before that value's source goes.
    expect(tf.pgstacks_teardown.depends_on).toEqual(['terraform_data.b']);
    // ... so b does not wait for the start resource (which waits for the teardown); a does.
    expect(tf.b.depends_on).toBeUndefined();
    expect(tf.a.depends_on).toEqual(['terraform_data.pgstacks_start']);
    const env = tf.pgstacks.provisioner[0]['local-exec'].environment;
    expect(env.PGSTACKS_TF_0).toBe('${jsonencode("v-${var.label}")}');
    const manifest = JSON.parse(fs.readFileSync(path.join(stackDir, env.PGSTACKS_MANIFEST), 'utf8'));
    expect(manifest.resources.map((r: any) => r.props.label)).toEqual(['${file("/etc/passwd")} %{if x}', { $tf: 'PGSTACKS_TF_0' }]);
    // Widgets keep a secret output: the handler derives the state key while it loads (early-secrets.ts).
    expect(manifest.secretOutputs).toBe(true);
    fs.rmSync(outdir, { recursive: true });
  });
});

describe('null_resource mode', () => {
  const json = synth((stack) => {
    Pgstacks.configure(stack, { lifecycleResource: LifecycleResourceKind.NULL_RESOURCE });
    const a = new Widget(stack, 'a', { endpoint, name: 'alpha', size: 1 });
    new Gadget(stack, 'g', { endpoint, name: 'gamma', size: 3, label: a.widgetId });
  });

  test('null_resource with string triggers and a null provider added automatically', () => {
    expect(json.resource.terraform_data).toBeUndefined();
    expect(Object.keys(json.resource.null_resource).sort()).toEqual(['a', 'g', 'pgstacks', 'pgstacks_rerun', 'pgstacks_start', 'pgstacks_teardown']);
    expect(json.provider).toHaveProperty('null');
    expect(json.terraform.required_providers.null).toMatchObject({ source: 'null' });
    const triggers = json.resource.null_resource.g.triggers;
    for (const value of Object.values(triggers)) expect(typeof value).toBe('string');
    expect(JSON.parse(triggers.spec)).toMatchObject({ props: { endpoint, name: 'gamma', size: 3, label: { $ref: { resource: 'a', attribute: 'id' } } }, removalPolicy: 'retain' });
  });

  test('the reconciler reads self.triggers', () => {
    const reconciler = json.resource.null_resource.pgstacks;
    expect(reconciler.provisioner[0]['local-exec'].environment.PGSTACKS_PLANNED_RUN).toBe('${self.triggers.unfinished_run}');
    expect(json.resource.null_resource.pgstacks_rerun.lifecycle).toEqual({ replace_triggered_by: ['null_resource.a', 'null_resource.g'] });
    expect(json.resource.null_resource.pgstacks_rerun.provisioner[0]['local-exec'].environment.PGSTACKS_PLANNED_RUN).toBe('${null_resource.pgstacks.triggers.unfinished_run}');
  });

  test('an existing NullProvider is reused, not duplicated', () => {
    const withProvider = synth((stack) => {
      const { NullProvider } = require('@cdktf/provider-null/lib/provider');
      new NullProvider(stack, 'mine', { alias: undefined });
      Pgstacks.configure(stack, { lifecycleResource: LifecycleResourceKind.NULL_RESOURCE });
      new Widget(stack, 'a', { endpoint, name: 'alpha', size: 1 });
    });
    expect(withProvider.provider.null).toHaveLength(1);
  });

  test('configure after the first resource is an error', () => {
    expect(() =>
      synth((stack) => {
        new Widget(stack, 'a', { endpoint, name: 'alpha', size: 1 });
        Pgstacks.configure(stack, { lifecycleResource: LifecycleResourceKind.NULL_RESOURCE });
      }),
    ).toThrow("Pgstacks.configure(test): call it before the stack's first pgstacks resource is created");
  });
});

describe('validation at synth', () => {
  const build = (props: Record<string, unknown>) => () =>
    synth((stack) => new Widget(stack, 'bad', { endpoint, name: 'alpha', size: 1, ...props } as never));

  test('names the construct path, the field, the value and what is allowed', () => {
    expect(build({ size: 500 })).toThrow(`Invalid props for Widget at 'test/bad':\n  - size = 500: Too big: expected number to be <=100`);
    expect(build({ name: 'Has Spaces' })).toThrow(
      `  - name = "Has Spaces": expected 1-40 lowercase letters, digits or -, starting with a letter`,
    );
    expect(build({ color: 'pink' })).toThrow(`  - color = "pink": Invalid option: expected one of "red"|"green"|"blue"`);
  });

  test('lists every problem at once', () => {
    expect(build({ size: 0, color: 'pink' })).toThrow(/size = 0: .*\n {2}- color = "pink"/);
  });

  test('does not judge values known only at deploy time', () => {
    expect(() =>
      synth((stack) => {
        const size = new TerraformVariable(stack, 'size', { type: 'number' });
        const name = new TerraformVariable(stack, 'name', { type: 'string' });
        const a = new Widget(stack, 'a', { endpoint, name: name.stringValue, size: size.numberValue });
        new Widget(stack, 'b', { endpoint, name: 'beta', size: 1, label: a.widgetId });
      }),
    ).not.toThrow();
  });

  test('an attribute the type does not have fails at synth', () => {
    expect(() =>
      synth((stack) => {
        new Widget(stack, 'a', { endpoint, name: 'alpha', size: 1 }).getAttribute('colour');
      }),
    ).toThrow("test/a: test:widget has no attribute 'colour' (it has: id, name, size, color, label, apiKey)");
  });

  test('references across stacks are refused', () => {
    expect(() => {
      const app = Testing.app();
      const a = new Widget(new TerraformStack(app, 'one'), 'a', { endpoint, name: 'alpha', size: 1 });
      new Widget(new TerraformStack(app, 'two'), 'b', { endpoint, name: 'beta', size: 1, label: a.widgetId });
    }).toThrow('two/b: references one/a, which is in another stack');
  });

  test('an attribute passed to a plain Terraform resource explains why it cannot be', () => {
    expect(() =>
      synth((stack) => {
        const a = new Widget(stack, 'a', { endpoint, name: 'alpha', size: 1 });
        new (require('cdktf').TerraformOutput)(stack, 'out', { value: a.widgetId });
      }),
    ).toThrow(/test\/a\.id is known only when pgstacks deploys it/);
  });

  test('bad aliases and bad secret names are refused', () => {
    expect(build({ aliases: ['bad'] })).toThrow('test/bad: aliases = ["bad"]: an alias must be a previous logical id');
    expect(() => Secret.fromEnv('NOT-VALID')).toThrow("Secret.fromEnv('NOT-VALID'): not a valid environment variable name");
    expect(() => `${Secret.fromEnv('TOKEN')}`).toThrow("Secret.fromEnv('TOKEN') was used inside a string");
  });
});

describe('secrets and the synthesized output', () => {
  test('no secret value appears in any synthesized file', () => {
    const value = 'sup3r-secret-value-41';
    process.env.WIDGET_TOKEN = value;
    try {
      const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-synth-'));
      const app = new App({ outdir });
      const stack = new TerraformStack(app, 'test');
      new Widget(stack, 'a', { endpoint, name: 'alpha', size: 1, token: Secret.fromEnv('WIDGET_TOKEN') });
      app.synth();
      const files = fs.readdirSync(outdir, { recursive: true, withFileTypes: true }).filter((f) => f.isFile());
      expect(files.length).toBeGreaterThan(2);
      for (const file of files) expect(fs.readFileSync(path.join(file.parentPath, file.name), 'utf8')).not.toContain(value);
      const json = fs.readFileSync(path.join(outdir, 'stacks', 'test', 'cdk.tf.json'), 'utf8');
      expect(JSON.parse(JSON.parse(json).resource.terraform_data.a.triggers_replace.spec).props.token).toEqual({ $secret: { fromEnv: 'WIDGET_TOKEN' } });
      fs.rmSync(outdir, { recursive: true });
    } finally {
      delete process.env.WIDGET_TOKEN;
    }
  });

  test('the handler is a self-contained directory shipped as an asset: an entry file and the bundle it runs', () => {
    const { outdir, handler } = synthHandler();
    const builtins = new Set(require('node:module').builtinModules);
    const files = fs.readdirSync(path.dirname(handler)).sort();
    expect(files).toEqual(['pgstacks-handler.bundle.js', 'pgstacks-handler.js']);
    for (const file of files) {
      const code = fs.readFileSync(path.join(path.dirname(handler), file), 'utf8');
      const requires = [...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
      // node: modules are Node's own (undici loads node:sqlite lazily, on Node 22+ only).
      expect(requires.filter((r) => !r.startsWith('node:') && !builtins.has(r) && r !== 'pg-native')).toEqual([]);
    }
    // zod is imported as a namespace everywhere: \`import { z } from 'zod'\` would bring its 40 locales (~0.6 MB).
    const bundle = fs.readFileSync(path.join(path.dirname(handler), 'pgstacks-handler.bundle.js'), 'utf8');
    expect([...bundle.matchAll(/\/\/ node_modules\/zod\/v4\/locales\/([\w-]+)\.js/g)].map((m) => m[1]).sort()).toEqual(['en', 'index']);
    fs.rmSync(outdir, { recursive: true });
  });

  test("the handler keeps V8's code cache in the user's cache directory: written once, used after, rewritten when damaged", () => {
    const { outdir, handler } = synthHandler();
    const cacheHome = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-cache-'));
    // The handler as the reconciler runs it; without a manifest it stops at once, with exit code 1.
    const run = (env: Record<string, string> = { XDG_CACHE_HOME: cacheHome }) => {
      const result = spawnSync(process.execPath, ['--liftoff-only', '--min-semi-space-size=16', '--interrupt-budget=1048576', handler, 'reconcile'], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
      expect(result.stdout).toContain('PGSTACKS_MANIFEST is not set');
      expect(result.status).toBe(1);
    };
    const cacheFiles = () => fs.readdirSync(path.join(cacheHome, 'pgstacks'));
    try {
      run();
      expect(cacheFiles()).toEqual([expect.stringMatching(new RegExp(`^handler-[0-9A-F]{32}-${process.version}-${process.arch}\\.v8cache$`))]);
      const cache = path.join(cacheHome, 'pgstacks', cacheFiles()[0]!);
      expect(fs.statSync(path.join(cacheHome, 'pgstacks')).mode & 0o777).toBe(0o700);
      expect(fs.statSync(cache).mode & 0o777).toBe(0o600);
      // V8 accepts it: the next run does not write it again.
      const written = fs.statSync(cache).ino;
      run();
      expect(fs.statSync(cache).ino).toBe(written);
      // A damaged cache is rejected by V8 and replaced; the run itself is unaffected.
      fs.writeFileSync(cache, 'not a code cache');
      run();
      expect(fs.statSync(cache).size).toBeGreaterThan(1000);
      expect(cacheFiles()).toHaveLength(1);
      // Nowhere to write it: the run is unaffected.
      const notADirectory = path.join(cacheHome, 'file');
      fs.writeFileSync(notADirectory, '');
      run({ XDG_CACHE_HOME: notADirectory });
    } finally {
      fs.rmSync(cacheHome, { recursive: true, force: true });
      fs.rmSync(outdir, { recursive: true });
    }
  });

  test.each([
    ['a passphrase: the loader starts its scrypt before the bundle is read, and the run uses that derivation', 'k', ['scrypt', 'bundle read'], 'scrypt'],
    ['a 256-bit key: no scrypt at all', Buffer.alloc(32, 7).toString('base64'), ['bundle read'], 'hkdf-sha256'],
  ])('the state key as %s', (_, stateKey, expected, kdf) => {
    const { outdir, handler } = synthHandler();
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-derive-'));
    // Preloaded: notes each scrypt call and the read of the bundle, in order.
    const events = path.join(work, 'events.json');
    const probe = path.join(work, 'probe.js');
    fs.writeFileSync(
      probe,
      `const crypto = require('node:crypto'), fs = require('node:fs'), seen = [];
       const read = fs.readFileSync;
       fs.readFileSync = function (file, ...rest) { if (String(file).endsWith('.bundle.js')) seen.push('bundle read'); return read.call(this, file, ...rest); };
       for (const name of ['scrypt', 'scryptSync']) { const original = crypto[name]; crypto[name] = function (...args) { seen.push(name); return original.apply(this, args); }; }
       process.on('exit', () => fs.writeFileSync(${JSON.stringify(events)}, JSON.stringify(seen)));`,
    );
    try {
      const result = spawnSync(process.execPath, ['-r', probe, handler, 'reconcile'], { env: handlerEnv(outdir, work, stateKey), encoding: 'utf8' });
      // The widget's endpoint is closed, so its create fails: after the key was checked and its check stored.
      expect(result.stdout).toContain('a (test:widget): create failed');
      expect(JSON.parse(fs.readFileSync(events, 'utf8'))).toEqual(expected);
      expect(JSON.parse(fs.readFileSync(path.join(work, 'state', 'test', '_stack.meta'), 'utf8')).keyCheck).toMatchObject({ kdf });
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
      fs.rmSync(outdir, { recursive: true });
    }
  });

  test('a run loads none of the Node modules the bundle stands in for, nor perf_hooks or fs/promises', async () => {
    const server = await new WidgetServer().start();
    const { outdir, handler } = synthHandler(server.url);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-modules-'));
    const loaded = path.join(work, 'loaded.json');
    const probe = path.join(work, 'probe.js');
    fs.writeFileSync(probe, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(loaded)}, JSON.stringify(process.moduleLoadList)));`);
    try {
      const stdout = await new Promise<string>((resolve) => {
        const child = spawn(process.execPath, ['-r', probe, handler, 'reconcile'], { env: handlerEnv(outdir, work, Buffer.alloc(32, 7).toString('base64')) });
        let out = '';
        child.stdout.on('data', (chunk) => (out += chunk));
        child.on('close', () => resolve(out));
      });
      expect(stdout).toContain('a: created test:widget');
      expect(server.list()).toHaveLength(1);
      const builtins = (JSON.parse(fs.readFileSync(loaded, 'utf8')) as string[]).filter((m) => m.startsWith('NativeModule '));
      expect(builtins).toContain('NativeModule net'); // the probe sees the run's modules
      // Each costs a run milliseconds to load (src/runtime/lazy-assert.ts, undici-http.ts, no-http2.ts, files.ts).
      for (const unused of ['assert', 'http', 'http2', 'perf_hooks', 'internal/fs/promises']) expect(builtins).not.toContain(`NativeModule ${unused}`);
    } finally {
      await server.stop();
      fs.rmSync(work, { recursive: true, force: true });
      fs.rmSync(outdir, { recursive: true });
    }
  });
});

/** The environment the reconciler gives the handler of synthHandler's stack, with its state and caches under `work`. */
function handlerEnv(outdir: string, work: string, stateKey: string): NodeJS.ProcessEnv {
  const stackDir = path.join(outdir, 'stacks/test');
  const config = JSON.parse(fs.readFileSync(path.join(stackDir, 'cdk.tf.json'), 'utf8'));
  const manifest = path.resolve(stackDir, config.resource.terraform_data.pgstacks.provisioner[0]['local-exec'].environment.PGSTACKS_MANIFEST);
  return { PATH: process.env.PATH, XDG_CACHE_HOME: work, PGSTACKS_MANIFEST: manifest, PGSTACKS_STACK: 'test', PGSTACKS_STATE_DIR: path.join(work, 'state'), PGSTACKS_STATE_KEY: stateKey };
}

/** Synthesizes a one-widget stack; returns the out directory and the handler's entry file. */
function synthHandler(widgetEndpoint = endpoint): { outdir: string; handler: string } {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-synth-'));
  const app = new App({ outdir });
  new Widget(new TerraformStack(app, 'test'), 'a', { endpoint: widgetEndpoint, name: 'alpha', size: 1 });
  app.synth();
  const command: string = JSON.parse(fs.readFileSync(path.join(outdir, 'stacks/test/cdk.tf.json'), 'utf8')).resource.terraform_data.pgstacks.provisioner[0]['local-exec'].command;
  const handler = path.join(outdir, 'stacks/test', (/ (assets\/\S+\/pgstacks-handler\.js) /.exec(command) as RegExpExecArray)[1]!);
  return { outdir, handler };
}

describe('the Terraform version', () => {
  test('is declared, not checked at synth: synth runs no terraform process', () => {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-notf-'));
    const fake = path.join(bin, 'terraform');
    fs.writeFileSync(fake, '#!/bin/sh\necho "$@" >> "$0.calls"\necho "Terraform v1.3.9"\n', { mode: 0o755 });
    try {
      // Its own process: child processes do not see changes to Jest's process.env.
      const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, '../support/synth-widgets.ts'), path.join(bin, 'out'), '5'], {
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
        encoding: 'utf8',
      });
      expect(result.status).toBe(0);
      expect(fs.existsSync(`${fake}.calls`)).toBe(false);
      const config = JSON.parse(fs.readFileSync(path.join(bin, 'out', 'stacks', 'test', 'cdk.tf.json'), 'utf8'));
      expect(config.terraform.required_version).toBe('>= 1.4');
    } finally {
      fs.rmSync(bin, { recursive: true, force: true });
    }
  });
});

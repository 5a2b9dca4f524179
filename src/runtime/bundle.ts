/**
 * The handler: a directory shipped as a TerraformAsset, so the machine that applies needs only
 * Node. It holds one self-contained bundle (the runtime and the resource types) and the small
 * entry file that runs it with V8's code cache (handler-loader.ts). The installed package ships it
 * prebuilt with every built-in type (`npm run build`); a stack that uses a type of its own gets a
 * handler built at synth from the handler entry plus that type's module.
 */
import { buildSync, type BuildOptions } from 'esbuild';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The handler directory's entry file: `node <dir>/pgstacks-handler.js <command>`. */
export const HANDLER_FILE = 'pgstacks-handler.js';
/** The bundle the entry file runs, beside it. */
const BUNDLE_FILE = 'pgstacks-handler.bundle.js';
/** The prebuilt handler's directory, in the package's lib/. */
export const HANDLER_DIRECTORY = 'pgstacks-handler';
/** Beside the prebuilt handler: the names of the resource types it holds. */
export const HANDLER_TYPES_FILE = 'pgstacks-handler.types.json';
const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');
/** In the compiled package (lib/src/runtime), the prebuilt handler is lib/pgstacks-handler/. */
const PREBUILT = path.join(PACKAGE_ROOT, HANDLER_DIRECTORY);
/** The handler's entry module: the built-in types, then the handler's main. */
const ENTRY = path.resolve(__dirname, '..', 'handler-entry');
const NO_HTTP2 = path.resolve(__dirname, 'no-http2');
const UNDICI_HTTP = path.resolve(__dirname, 'undici-http');
const LAZY_ASSERT = path.resolve(__dirname, 'lazy-assert');
const LOADER = path.resolve(__dirname, 'handler-loader');

/** A resource type as the bundle needs it: its name and the module that defines it. */
export interface BundledType {
  readonly name: string;
  readonly module: string;
}

/** A handler directory, and a hash of its bundle (so synth need not read 2 MB to hash it). */
export interface HandlerBundle {
  readonly directory: string;
  readonly hash: string;
}

const built = new Map<string, HandlerBundle>();
let workDir: string | undefined;

/** The handler for a stack whose resources are of `types`: the prebuilt one when it holds them all. */
export function handlerBundle(types: readonly BundledType[]): HandlerBundle {
  const prebuilt = prebuiltTypes();
  const missing = types.filter((t) => !prebuilt?.types.includes(t.name));
  if (prebuilt?.hash && missing.length === 0) return { directory: PREBUILT, hash: prebuilt.hash };
  return buildHandler(missing.map((t) => t.module));
}

function prebuiltTypes(): { types: string[]; hash?: string } | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, HANDLER_TYPES_FILE), 'utf8')) as { types: string[]; hash?: string };
  } catch {
    return undefined; // running from the sources: nothing prebuilt
  }
}

const COMMON: BuildOptions = {
  absWorkingDir: PACKAGE_ROOT, // module comments are relative to it, so the output is reproducible
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  write: false,
  legalComments: 'none',
  logLevel: 'silent',
};

/** Bundles the handler entry with `extraModules` (their types register on load) into a handler directory; cached per process. */
export function buildHandler(extraModules: readonly string[], outDirectory?: string): HandlerBundle {
  const modules = [...new Set(extraModules.map(stripExtension))].sort();
  const key = `${modules.join('\n')}\n${outDirectory ?? ''}`;
  const cached = built.get(key);
  if (cached && fs.existsSync(path.join(cached.directory, BUNDLE_FILE))) return cached;

  // The extra types register before the entry runs the handler (the loader has started the slow hashes: early-secrets.ts).
  const entry = [...modules, ENTRY].map((m) => `require(${JSON.stringify(m)});`).join('\n');
  const code = buildSync({
    ...COMMON,
    stdin: { contents: entry, resolveDir: PACKAGE_ROOT, sourcefile: 'pgstacks-handler-entry.js', loader: 'js' },
    external: ['pg-native'], // pg's optional native binding
    // Node modules undici loads as it starts and pgstacks does not need (no-http2.ts, undici-http.ts, lazy-assert.ts).
    alias: { 'node:http2': NO_HTTP2, 'node:http': UNDICI_HTTP, 'node:assert': LAZY_ASSERT },
  }).outputFiles![0]!.contents;
  const bundleHash = sha256(code);
  const loader = buildSync({
    ...COMMON,
    entryPoints: [require.resolve(LOADER)],
    define: { PGSTACKS_BUNDLE_HASH: JSON.stringify(bundleHash), PGSTACKS_BUNDLE_FILE: JSON.stringify(BUNDLE_FILE) },
  }).outputFiles![0]!.contents;
  const hash = sha256(Buffer.concat([loader, code]));
  const directory = outDirectory ?? path.join(synthWorkDirectory(), hash.slice(0, 16), HANDLER_DIRECTORY);
  fs.mkdirSync(directory, { recursive: true });
  fs.writeFileSync(path.join(directory, HANDLER_FILE), loader);
  fs.writeFileSync(path.join(directory, BUNDLE_FILE), code);
  const handler = { directory, hash };
  built.set(key, handler);
  return handler;
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex').slice(0, 32).toUpperCase();
}

/** A private directory for files made at synth (not a predictable /tmp path another user could plant a file in). */
export function synthWorkDirectory(): string {
  if (!workDir) {
    const dir = (workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-synth-')));
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return workDir;
}

function stripExtension(file: string): string {
  return file.replace(/\.(ts|js|cjs|mjs)$/, '');
}

/**
 * The handler bundle: one self-contained file (the runtime and the resource types) shipped as a
 * TerraformAsset, so the machine that applies needs only Node. The installed package ships it
 * prebuilt with every built-in type (`npm run build`); a stack that uses a type of its own gets a
 * bundle built at synth from the handler entry plus that type's module.
 */
import { buildSync } from 'esbuild';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const HANDLER_FILE = 'pgstacks-handler.js';
/** Beside the prebuilt bundle: the names of the resource types it holds. */
export const HANDLER_TYPES_FILE = 'pgstacks-handler.types.json';
const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');
/** In the compiled package (lib/src/runtime), the prebuilt bundle is lib/pgstacks-handler.js. */
const PREBUILT = path.join(PACKAGE_ROOT, HANDLER_FILE);
/** The handler's entry module: the built-in types, then the handler's main. */
const ENTRY = path.resolve(__dirname, '..', 'handler-entry');
const EARLY = path.resolve(__dirname, 'early-secrets');
const NO_HTTP2 = path.resolve(__dirname, 'no-http2');

/** A resource type as the bundle needs it: its name and the module that defines it. */
export interface BundledType {
  readonly name: string;
  readonly module: string;
}

/** A handler bundle: its file, and a hash of its content (so synth need not read 2 MB to hash it). */
export interface HandlerBundle {
  readonly path: string;
  readonly hash: string;
}

const built = new Map<string, HandlerBundle>();
let workDir: string | undefined;

/** The bundle for a stack whose resources are of `types`: the prebuilt one when it holds them all. */
export function handlerBundle(types: readonly BundledType[]): HandlerBundle {
  const prebuilt = prebuiltTypes();
  const missing = types.filter((t) => !prebuilt?.types.includes(t.name));
  if (prebuilt?.hash && missing.length === 0) return { path: PREBUILT, hash: prebuilt.hash };
  return buildHandler(missing.map((t) => t.module));
}

function prebuiltTypes(): { types: string[]; hash?: string } | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, HANDLER_TYPES_FILE), 'utf8')) as { types: string[]; hash?: string };
  } catch {
    return undefined; // running from the sources: nothing prebuilt
  }
}

/** Bundles the handler entry with `extraModules` (their types register on load); cached per process. */
export function buildHandler(extraModules: readonly string[], outFile?: string): HandlerBundle {
  const modules = [...new Set(extraModules.map(stripExtension))].sort();
  const key = `${modules.join('\n')}\n${outFile ?? ''}`;
  const cached = built.get(key);
  if (cached && fs.existsSync(cached.path)) return cached;

  // The slow hashes start first (early-secrets.ts); the extra types register before the entry runs the handler.
  const entry = [
    `require(${JSON.stringify(EARLY)}).startDerivingSecrets(process.env);`,
    ...[...modules, ENTRY].map((m) => `require(${JSON.stringify(m)});`),
  ].join('\n');
  const result = buildSync({
    stdin: { contents: entry, resolveDir: PACKAGE_ROOT, sourcefile: 'pgstacks-handler-entry.js', loader: 'js' },
    absWorkingDir: PACKAGE_ROOT, // module comments are relative to it, so the output is reproducible
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
    external: ['pg-native'], // pg's optional native binding
    alias: { 'node:http2': NO_HTTP2 },
  });
  const code = result.outputFiles[0].contents;
  const hash = createHash('sha256').update(code).digest('hex').slice(0, 32).toUpperCase();
  const file = outFile ?? path.join(synthWorkDirectory(), hash.slice(0, 16), HANDLER_FILE);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, code);
  const bundle = { path: file, hash };
  built.set(key, bundle);
  return bundle;
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

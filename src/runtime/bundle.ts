/**
 * Builds the handler into one self-contained file at synth time: the runtime, every built-in
 * resource type and any other type the stack uses. Shipped as a TerraformAsset, it needs only
 * Node on the machine that applies.
 */
import { buildSync } from 'esbuild';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const HANDLER_FILE = 'pgstacks-handler.js';
const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');
const BUILTIN_TYPES = path.resolve(__dirname, '..', 'resources', 'index');
const HANDLER_ENTRY = path.resolve(__dirname, 'handler');

const built = new Map<string, string>();
let workDir: string | undefined;

/** Returns the path of a bundle holding the built-in types plus `typeModules`; cached per process. */
export function bundleHandler(typeModules: readonly string[]): string {
  const modules = [...new Set([BUILTIN_TYPES, ...typeModules.map(stripExtension)])].sort();
  const key = modules.join('\n');
  const cached = built.get(key);
  if (cached && fs.existsSync(cached)) return cached;

  const entry = [...modules.map((m) => `require(${JSON.stringify(m)});`), `require(${JSON.stringify(HANDLER_ENTRY)}).main();`].join('\n');
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
  });
  const code = result.outputFiles[0].contents;
  const file = path.join(synthWorkDirectory(), createHash('sha256').update(code).digest('hex').slice(0, 16), HANDLER_FILE);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, code);
  built.set(key, file);
  return file;
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

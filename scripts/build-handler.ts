/**
 * `npm run build`, after tsc: the prebuilt handler the package ships (lib/pgstacks-handler/),
 * holding every built-in resource type, and the list of those types and its hash beside it, so a
 * stack that uses only built-in types needs no bundling (or hashing) at synth (src/runtime/bundle.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadResourceTypes } from '../src/manifests';
import { buildHandler, HANDLER_DIRECTORY, HANDLER_TYPES_FILE } from '../src/runtime/bundle';
import { registeredTypeNames } from '../src/runtime/resource-type';

loadResourceTypes();
const lib = path.resolve(__dirname, '..', 'lib');
const { hash } = buildHandler([], path.join(lib, HANDLER_DIRECTORY));
fs.writeFileSync(path.join(lib, HANDLER_TYPES_FILE), `${JSON.stringify({ types: registeredTypeNames(), hash }, null, 2)}\n`);
process.stdout.write(`built ${path.relative(process.cwd(), path.join(lib, HANDLER_DIRECTORY))} with ${registeredTypeNames().join(', ')}\n`);

/** The handler bundle's entry: the handler, with every service's resource types (loaded when a command needs them). */
import { loadResourceTypes } from './manifests';
import { main } from './runtime/handler';

main(process.argv.slice(2), loadResourceTypes);

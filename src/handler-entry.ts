/** The handler bundle's entry: the handler, with every built-in service's resource types (loaded when a command needs them). */
import { main } from './runtime/handler';

main(process.argv.slice(2), () => require('./resources'));

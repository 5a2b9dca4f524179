/** The handler bundle's entry: every built-in service's resource types, then the handler. */
import './resources';
import { main } from './runtime/handler';

main();

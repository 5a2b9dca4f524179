/**
 * Stands in for node:http in the handler bundle (bundle.ts), whose only user is undici. undici
 * loads node:http as it starts (~5 ms of every engine run) for two things: `IncomingMessage`, to
 * recognize Node's own response streams passed as request bodies (pgstacks' clients send strings
 * and buffers), and `maxHeaderSize`, its default limit on response headers: Node's default, as
 * the handler's node runs without --max-http-header-size.
 */
export class IncomingMessage {}
export const maxHeaderSize = 16 * 1024;

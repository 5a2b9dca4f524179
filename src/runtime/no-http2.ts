/**
 * Stands in for node:http2 in the handler bundle (bundle.ts). undici loads node:http2 as it
 * starts, for HTTP/2, which pgstacks' clients never negotiate (undici's allowH2 is off): ~7 ms of
 * every engine run. undici expects node:http2 to be missing on some platforms and goes on without it.
 */
throw new Error('node:http2 is not part of the pgstacks handler bundle');

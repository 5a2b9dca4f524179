/**
 * Request bodies, plain or gzip/deflate, with one size limit that holds after decompression too:
 * a small gzip body that would inflate to gigabytes is refused once the inflated size passes the
 * limit, without ever holding more than the limit in memory.
 */
import type { IncomingMessage } from 'node:http';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { HttpError } from './errors';

/** The default limit on a request body, before and after decompression. */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

const decoders: Record<string, (buffer: Buffer, options: zlib.ZlibOptions) => Promise<Buffer>> = {
  gzip: promisify(zlib.gunzip),
  'x-gzip': promisify(zlib.gunzip),
  deflate: promisify(zlib.inflate),
};

/** Reads and decompresses the body; 413 past `maxBytes`, 415 for an unknown Content-Encoding. */
export async function readRequestBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
  const decode = decoders[encoding];
  if (!decode && encoding !== 'identity' && encoding !== '') {
    req.resume(); // discard the body
    throw new HttpError(415, `Unsupported Content-Encoding: ${encoding}`);
  }
  const raw = await readAtMost(req, maxBytes);
  if (!decode) return raw;
  try {
    // zlib stops inflating as soon as the output would pass maxOutputLength.
    return await decode(raw, { maxOutputLength: maxBytes });
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(maxBytes, 'once decompressed');
    throw new HttpError(400, `The request body is not valid ${encoding} data`);
  }
}

/**
 * Collects at most `maxBytes`. Past that it rejects at once and lets the rest of the body drain
 * unread; the socket stays open, so the client still hears the 413.
 */
function readAtMost(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      req.off('end', onEnd);
      req.resume();
      reject(tooLarge(maxBytes));
    };
    const onEnd = () => resolve(Buffer.concat(chunks));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', reject);
  });
}

function tooLarge(maxBytes: number, when = ''): HttpError {
  return new HttpError(413, `The request body exceeds ${maxBytes} bytes${when ? ` ${when}` : ''}`);
}

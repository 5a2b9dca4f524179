/** The handler's log masks every secret it has seen (runtime/log.ts). */
import { Logger } from '../../src/runtime/log';

test('secrets are masked whole, including ones holding pattern characters or other secrets', () => {
  const lines: string[] = [];
  const logger = new Logger((line) => lines.push(line));
  logger.line('nothing to hide yet: abc');
  logger.redact('abc');
  logger.redact('xabcx');
  logger.redact('p.w*d$1(');
  logger.redact('');
  logger.line('xabcx abc p.w*d$1( p-w-d axbc');
  expect(lines).toEqual(['pgstacks: nothing to hide yet: abc', 'pgstacks: *** *** *** p-w-d axbc']);
  expect(logger.clean('error: token abcabc')).toBe('error: token ******');
});

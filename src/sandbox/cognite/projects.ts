/**
 * The sandbox's CDF projects: a fixed list chosen at start. A request to any other project is
 * refused before anything is looked up or stored, so a made-up name (`..%2F..%2Fetc%2Fpasswd`)
 * never reaches the database.
 */
import { HttpError } from '../errors';

/** The projects a sandbox serves when none are configured. */
export const DEFAULT_PROJECTS: readonly string[] = ['acme'];

/** A URL name CDF would accept: lowercase letters, digits and inner hyphens, at most 64 characters. */
const PROJECT_NAME = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

/** Checks the configured names (throwing on a bad one) and returns them sorted, without repeats. */
export function projectList(names: readonly string[] = DEFAULT_PROJECTS): readonly string[] {
  if (names.length === 0) throw new Error('sandbox: configure at least one Cognite project');
  for (const name of names) {
    if (typeof name !== 'string' || !PROJECT_NAME.test(name)) {
      throw new Error(
        `sandbox: invalid Cognite project name ${JSON.stringify(name)}: use lowercase letters, digits and hyphens (not at either end), at most 64 characters`,
      );
    }
  }
  return [...new Set(names)].sort();
}

/**
 * CDF's answer for a project the token cannot reach, whether or not the project exists: its
 * generic 403, so the answer does not tell which projects exist.
 */
export function noSuchProject(): HttpError {
  return new HttpError(403, 'Resource not found. This may also be due to insufficient access rights.');
}

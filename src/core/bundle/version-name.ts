import { InputError } from '../errors.ts';

/**
 * A bundle version is one folder name under the bundles folder and one URL segment: letters, digits, `.`,
 * `_` and `-`, starting with a letter or digit (so never a dot-file such as a `.upload-*` staging folder),
 * at most 128 characters.
 */
export const VERSION_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Names the bundles folder uses for itself: a version named so would overwrite or shadow them. */
const RESERVED = new Set(['latest.json', 'manifest.json']);

/** Why `name` cannot be a bundle version, or undefined when it can. */
export function versionNameProblem(name: string): string | undefined {
  if (!VERSION_NAME.test(name))
    return 'must be 1 to 128 letters, digits, ".", "_" or "-", starting with a letter or digit';
  if (name.includes('..')) return 'must not contain ".."';
  if (RESERVED.has(name.toLowerCase())) return `is reserved (${[...RESERVED].join(', ')})`;
  return undefined;
}

/** Throws an InputError naming the version when it is not a valid version name. */
export function checkVersionName(name: string, what = 'bundle version'): string {
  const problem = versionNameProblem(name);
  if (problem) throw new InputError(`${what} ${JSON.stringify(name.slice(0, 80))} ${problem}`);
  return name;
}

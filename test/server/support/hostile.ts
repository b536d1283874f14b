/** Hostile inputs shared by the regression tests and the fuzzer. */

/** Version names the registry and the CLI must refuse. */
export const HOSTILE_VERSIONS = [
  'latest.json',
  'LATEST.JSON',
  'manifest.json',
  '..',
  '.',
  'a..b',
  '.upload-x',
  '.hidden',
  '-rf',
  '_x',
  'a/b',
  'a\\b',
  'v 1',
  'v1\n',
  'x'.repeat(129),
  'é',
  '',
];

import { HttpError } from './errors.ts';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why a string cannot be stored, or undefined when it can: PostgreSQL's text refuses U+0000 (a 500 before
 * this check), and a lone UTF-16 surrogate has no UTF-8 form (SQLite stored invalid UTF-8, PostgreSQL
 * folded different ones into one replacement character, so distinct ids collided).
 */
export function unstorable(text: string): string | undefined {
  if (text.includes('\u0000')) return 'contains U+0000 (NUL)';
  if (LONE_SURROGATE.test(text)) return 'contains a lone UTF-16 surrogate (not encodable as UTF-8)';
  return undefined;
}

/**
 * Keys that name an object's prototype machinery. JSON.parse makes them plain own properties, but code
 * that copies or merges a body (`{...a}`, Object.assign, a deep merge) may not: they are refused outright.
 */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const pointer = (where: string, key: string | number) =>
  `${where}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1').slice(0, 64)}`;

/**
 * Walks a parsed JSON value (iteratively: nesting depth is bounded only by the body limit) and throws a
 * 400 naming the first string or key that cannot be stored, or the first prototype key.
 */
export function checkJsonStrings(value: unknown, where: string): void {
  const stack: [unknown, string][] = [[value, where]];
  while (stack.length > 0) {
    const [node, path] = stack.pop() as [unknown, string];
    if (typeof node === 'string') {
      const problem = unstorable(node);
      if (problem) throw new HttpError(400, `${path} ${problem}, which is refused`);
    } else if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push([node[i], pointer(path, i)]);
    } else if (node !== null && typeof node === 'object') {
      for (const key of Object.keys(node)) {
        if (PROTOTYPE_KEYS.has(key))
          throw new HttpError(400, `${path} has the key "${key}": prototype keys are refused`);
        const problem = unstorable(key);
        if (problem) throw new HttpError(400, `${path} has a key that ${problem}, which is refused`);
        stack.push([(node as Record<string, unknown>)[key], pointer(path, key)]);
      }
    }
  }
}

/** Checks the strings of a request's path parameters and query string (already percent-decoded). */
export function checkUrlStrings(params: unknown, query: unknown): void {
  for (const [part, values] of [
    ['params', params],
    ['querystring', query],
  ] as const) {
    if (values === null || typeof values !== 'object') continue;
    for (const [key, value] of Object.entries(values)) {
      for (const text of [key, ...(Array.isArray(value) ? value : [value])]) {
        if (typeof text !== 'string') continue;
        const problem = unstorable(text);
        if (problem) throw new HttpError(400, `${part}/${key.slice(0, 64)} ${problem}, which is refused`);
      }
    }
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The API's JSON body parser, in place of fastify's: the body must be valid UTF-8 (an overlong or truncated
 * sequence is refused, not replaced by U+FFFD), valid JSON, and hold only storable strings and no
 * prototype keys, each refusal saying which of these failed and where.
 */
export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0)
    throw new HttpError(400, "Body cannot be empty when content-type is set to 'application/json'");
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new HttpError(400, 'body is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, `body is not valid JSON: ${(error as Error).message.slice(0, 120)}`);
  }
  checkJsonStrings(value, 'body');
  return value;
}

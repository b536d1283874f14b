import Ajv from 'ajv';
import type { FastifySchemaCompiler } from 'fastify';

/**
 * Bodies are validated strictly: a wrong type is an error, never coerced ("12" is not a timestamp), and an
 * unknown field is an error, never silently dropped. Only query strings, which are text by nature, have
 * their numbers coerced.
 */
const strict = new Ajv({ allErrors: false, coerceTypes: false, removeAdditional: false, useDefaults: true });
const query = new Ajv({ allErrors: false, coerceTypes: true, removeAdditional: false, useDefaults: true });
for (const ajv of [strict, query]) ajv.addKeyword({ keyword: 'example' });

export const validatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) =>
  (httpPart === 'querystring' || httpPart === 'params' ? query : strict).compile(schema) as never;

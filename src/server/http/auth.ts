import type { FastifyRequest } from 'fastify';
import type { TokenClaims, TokenSigner } from '../auth/index.ts';
import { TokenError } from '../auth/index.ts';
import { HttpError } from './errors.ts';

/** The verified claims of the request's bearer token; 401 when it has none or a bad one. */
export function claimsOf(request: FastifyRequest, signer: TokenSigner): TokenClaims {
  const header = request.headers.authorization;
  if (!header)
    throw new TokenError('missing Authorization: Bearer <token> header; POST /v1/session issues one');
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw new TokenError('the Authorization header must be "Bearer <token>"');
  return signer.verify(match[1]);
}

export function requireAdmin(request: FastifyRequest, signer: TokenSigner): TokenClaims {
  const claims = claimsOf(request, signer);
  if (claims.role !== 'admin')
    throw new HttpError(403, 'this route needs an admin token (edgerec token --admin)');
  return claims;
}

/** A user reaches only their own data; an admin reaches anyone's. */
export function requireSelf(request: FastifyRequest, signer: TokenSigner, userId: string): TokenClaims {
  const claims = claimsOf(request, signer);
  if (claims.role !== 'admin' && claims.sub !== userId)
    throw new HttpError(403, `this token belongs to another user; it reaches only /v1/users/${claims.sub}/…`);
  return claims;
}

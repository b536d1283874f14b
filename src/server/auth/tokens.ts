import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type Role = 'user' | 'admin';

export interface TokenClaims {
  /** The user id the token speaks for; admins have a name here too, for logs. */
  sub: string;
  role: Role;
  /** Expiry, seconds since the epoch. */
  exp: number;
  /**
   * When the session began, seconds since the epoch: set at first issue and carried unchanged by every
   * refresh, so a session ends `maxSessionSeconds` after it began however often it is refreshed.
   */
  since?: number;
}

/** Why a token was refused, in words a client developer can act on. */
export class TokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenError';
  }
}

const encode = (bytes: Buffer | string) => Buffer.from(bytes).toString('base64url');
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{1,2048}\.[A-Za-z0-9_-]{43}$/;

/**
 * Per-user bearer tokens: `base64url(claims JSON).base64url(HMAC-SHA256(secret, first part))`. Stateless,
 * so any server process sharing the secret verifies any other's tokens: what lets the API scale out.
 */
export class TokenSigner {
  private readonly secret: Buffer;

  constructor(secret: Buffer) {
    if (secret.byteLength < 32) throw new RangeError('the token secret must be at least 32 bytes');
    this.secret = secret;
  }

  static generateSecret(): Buffer {
    return randomBytes(32);
  }

  sign(claims: TokenClaims): string {
    const body = encode(JSON.stringify(claims));
    return `${body}.${this.mac(body)}`;
  }

  /** A token for a new session (`since` = now), or for a session that began at `since` (a refresh). */
  issue(
    sub: string,
    role: Role,
    ttlSeconds: number,
    now = Date.now(),
    since = Math.floor(now / 1000),
  ): { token: string; expiresAt: number } {
    const exp = Math.floor(now / 1000) + ttlSeconds;
    return { token: this.sign({ sub, role, exp, since }), expiresAt: exp * 1000 };
  }

  /** The claims of a valid, unexpired token; a TokenError saying what is wrong otherwise. */
  verify(token: string, now = Date.now()): TokenClaims {
    if (!TOKEN_SHAPE.test(token)) throw new TokenError('malformed token');
    const [body, mac] = token.split('.');
    const expected = Buffer.from(this.mac(body));
    const given = Buffer.from(mac);
    if (expected.byteLength !== given.byteLength || !timingSafeEqual(expected, given))
      throw new TokenError('bad token signature');
    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      throw new TokenError('malformed token');
    }
    const c = claims as Partial<TokenClaims>;
    if (
      typeof c?.sub !== 'string' ||
      c.sub.length === 0 ||
      (c.role !== 'user' && c.role !== 'admin') ||
      typeof c.exp !== 'number' ||
      (c.since !== undefined && typeof c.since !== 'number')
    )
      throw new TokenError('malformed token claims');
    if (c.exp * 1000 <= now) throw new TokenError(`token expired at ${new Date(c.exp * 1000).toISOString()}`);
    return c as TokenClaims;
  }

  private mac(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url');
  }
}

import { SyncHttp } from './http.ts';

/** An anonymous session of the sync server: a fresh user and its bearer token. */
export interface Session {
  /** The new user's id, made by the server: pass it as `createRecommender`'s `userId`. */
  userId: string;
  /** The bearer token of that user: pass it as `token` (the engine never stores it). */
  token: string;
  /** When the token expires, ms since the epoch (renew before with `refreshSession`). */
  expiresAt: number;
}

interface SessionAnswer extends Session {
  role: 'user' | 'admin';
}

const sessionOf = ({ userId, token, expiresAt }: SessionAnswer): Session => ({ userId, token, expiresAt });

/**
 * Opens an anonymous session (`POST /v1/session`): a new user id and its token, for apps without their own
 * auth. Pass both to `createRecommender({ serverUrl, userId, token })`; keeping them (e.g. in localStorage)
 * is the app's choice — the engine does not store tokens. Throws SyncNetworkError or SyncHttpError.
 */
export async function createSession(serverUrl: string, fetchImpl?: typeof fetch): Promise<Session> {
  const http = new SyncHttp({ serverUrl, fetch: fetchImpl });
  return sessionOf(await http.request<SessionAnswer>('POST', '/v1/session', {}));
}

/** Renews a still-valid token with a fresh expiry (`POST /v1/session/refresh`); then `setToken` it. */
export async function refreshSession(
  serverUrl: string,
  token: string,
  fetchImpl?: typeof fetch,
): Promise<Session> {
  const http = new SyncHttp({ serverUrl, token: () => token, fetch: fetchImpl });
  return sessionOf(await http.request<SessionAnswer>('POST', '/v1/session/refresh'));
}

import {
  createSession as openSession,
  refreshSession as renewSession,
  type Session,
} from '../core/contract/index.ts';

export type { Session };

/**
 * Opens an anonymous session on an edgerec sync server (`POST /v1/session`): a new user id and its
 * token, for apps without their own auth. Runs on the calling thread (no worker needed):
 *
 * ```ts
 * const { userId, token } = await createSession('https://api.example.com');
 * const rec = await createRecommender({ serverUrl: 'https://api.example.com', userId, token });
 * ```
 */
export function createSession(serverUrl: string): Promise<Session> {
  return openSession(serverUrl);
}

/** Renews a still-valid token with a fresh expiry; hand the new one to `recommender.setToken`. */
export function refreshSession(serverUrl: string, token: string): Promise<Session> {
  return renewSession(serverUrl, token);
}

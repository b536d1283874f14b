import { createSession, refreshSession, type Session } from '../sdk/index.ts';

const KEY = 'edgerec-demo-session';
const RENEW_BEFORE_MS = 7 * 24 * 3600 * 1000;

function stored(): Session | undefined {
  try {
    const value = JSON.parse(localStorage.getItem(KEY) ?? 'null') as Session | null;
    return value && typeof value.userId === 'string' && typeof value.token === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The demo's identity on the sync server: an anonymous session kept in localStorage, renewed when it nears
 * expiry. Offline, the kept one is used as it is (the engine then starts from IndexedDB); with no server
 * at all (plain `vite`), undefined, and the feed runs on the bundle folder alone.
 */
export async function demoSession(serverUrl: string): Promise<Session | undefined> {
  const kept = stored();
  try {
    if (kept && kept.expiresAt - Date.now() > RENEW_BEFORE_MS) return kept;
    const fresh = kept
      ? await refreshSession(serverUrl, kept.token).catch(() => createSession(serverUrl))
      : await createSession(serverUrl);
    localStorage.setItem(KEY, JSON.stringify(fresh));
    return fresh;
  } catch {
    return kept;
  }
}

/**
 * Calls of the real sync server's API from a browser test, as another client (or an admin) would make
 * them: what the server holds is read from the server, never from the engine's bookkeeping.
 */
import { expect } from 'vitest';

/** One call of the server's API. */
export async function api<T = Record<string, unknown>>(
  server: string,
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(new URL(path, server), {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as T };
}

export interface StoredEvent {
  id: string;
  userId: string;
  itemId: string;
  action: string;
  ts: number;
}

/** Every event the server stored for the user (GET /v1/users/:id/events with the user's token), oldest first. */
export async function serverEvents(server: string, userId: string, token: string): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  for (let after = 0; ; ) {
    const page = await api<{ events: StoredEvent[]; next: number }>(
      server,
      'GET',
      `/v1/users/${encodeURIComponent(userId)}/events?after=${after}&limit=1000`,
      token,
    );
    expect(page.status).toBe(200);
    all.push(...page.body.events);
    if (page.body.events.length < 1000) return all;
    after = page.body.next;
  }
}

// Session calls run on the page too (the SDK's createSession): src/core/contract.
export { createSession, refreshSession, type Session } from '../../core/contract/session.ts';

export { type LoadSecretOptions, loadSecret, SECRET_ENV } from './secret.ts';
export { type Role, type TokenClaims, TokenError, TokenSigner } from './tokens.ts';

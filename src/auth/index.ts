/**
 * The authentication the server configuration asks for (NETDOCTOR_AUTH and friends, checked by
 * src/config.ts), as the `auth` option of src/app.ts; undefined for NETDOCTOR_AUTH=off.
 */
import type { Config } from '../config.ts';
import { CLOUDS } from '../model/cloud.ts';
import { openApiKeyFile } from './api-keys.ts';
import { createEntraVerifier } from './entra.ts';
import type { AuthOptions } from './plugin.ts';

export interface AuthLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Throws ApiKeyFileError when the key file cannot be read or is not valid. */
export async function authFromConfig(config: Config, log: AuthLog): Promise<AuthOptions | undefined> {
  const mode = config.NETDOCTOR_AUTH;
  if (mode === undefined || mode === 'off') return undefined;
  const auth: AuthOptions = {};
  if (mode === 'entra' || mode === 'entra+api-keys') {
    auth.entra = createEntraVerifier({
      authority: config.NETDOCTOR_ENTRA_AUTHORITY ?? CLOUDS[config.NETDOCTOR_CLOUD].authorityHost,
      tenant: config.NETDOCTOR_ENTRA_TENANT_ID as string,
      audience: config.NETDOCTOR_ENTRA_AUDIENCE ?? [],
      log,
    });
  }
  if (mode === 'api-keys' || mode === 'entra+api-keys') {
    auth.apiKeys = await openApiKeyFile(config.NETDOCTOR_API_KEYS_FILE as string, { log });
  }
  return auth;
}

export { registerAuth, documentSecurity, type AuthOptions } from './plugin.ts';
export { PERMISSIONS, type Caller, type Permission } from './authorize.ts';

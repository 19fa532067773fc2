/**
 * Who may do what. Three permissions, each the name of an app role (application permission, in the
 * token's `roles` claim), of a delegated scope (in `scp`) of the API's app registration, or of a
 * role given to an API key:
 *
 *   Reports.Read      GET runs, reports, workspace health, schedules (and /metrics unless public)
 *   Diagnoses.Run     POST /v1/diagnoses, DELETE /v1/diagnoses/{id}
 *   Schedules.Manage  POST, PATCH, DELETE /v1/schedules
 *
 * Every route declares either `config: { public: true }` or `config: { permission }`; a route that
 * declares neither is refused to everyone (src/auth/plugin.ts), so forgetting it fails closed.
 */
export const PERMISSIONS = ['Reports.Read', 'Diagnoses.Run', 'Schedules.Manage'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export function isPermission(value: string): value is Permission {
  return (PERMISSIONS as readonly string[]).includes(value);
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What a caller needs to call the route (ignored when authentication is off). */
    permission?: Permission;
    /** Open to anyone, without credentials (liveness, readiness, public metrics). */
    public?: boolean;
  }
}

/** The authenticated caller, on `request.caller` (null when authentication is off or the route is public). */
export interface Caller {
  kind: 'entra' | 'api-key';
  /** Entra: the object id (`oid`), else the subject (`sub`). API key: the key's id from the key file. */
  id: string;
  /** Entra: the tenant id (`tid`). */
  tenant?: string;
  /** App roles and delegated scopes (Entra), or the key's roles: the names the caller holds. */
  roles: string[];
}

export function allows(caller: Caller, permission: Permission): boolean {
  return caller.roles.includes(permission);
}

/** What a route asks of its caller: nothing (public), a permission, or undefined when it declares neither. */
export function routeAccess(config: { permission?: Permission; public?: boolean } | undefined): 'public' | Permission | undefined {
  if (config?.public === true) return 'public';
  return config?.permission;
}

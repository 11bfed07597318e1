// Who a request is from, as the auth hook established it.
import type { FastifyRequest } from 'fastify';
import type { KeyRole } from '../../protocol/index.js';

export interface Principal {
  /** The key that signed the request; null on a coordinator without keys (loopback only). */
  keyId: string | null;
  role: KeyRole;
  /** The body's SHA-256 the signature covers; a streamed body is checked against it. */
  contentSha256: string | null;
}

/** On a coordinator without keys every request acts as an admin: it listens on loopback only. */
export const ANONYMOUS: Principal = { keyId: null, role: 'admin', contentSha256: null };

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

export function principalOf(request: FastifyRequest): Principal {
  return request.principal ?? ANONYMOUS;
}

/** The owner a client's requests are limited to; undefined for admins and workers. */
export function ownerScope(request: FastifyRequest): string | undefined {
  const p = principalOf(request);
  return p.role === 'client' && p.keyId !== null ? p.keyId : undefined;
}

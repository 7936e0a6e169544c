import { TOKEN } from './config.js';

/** What the bench reads of a service through a replica's admin API (docs/api.md). */
export interface ServiceRead {
  readonly phase: string;
  readonly weight: number;
  readonly revision: number;
  /** The salt of the candidate's buckets (`<service>:<candidate>` unless the start named one). */
  readonly salt: string;
  readonly lastVerdict: { readonly result: string; readonly reason: string; readonly at: string } | null;
}

export interface AuditRead {
  readonly id: string;
  readonly actor: string;
  readonly action: string;
  readonly reason: string | null;
  readonly at: string;
}

const HEADERS = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

async function answer<T>(res: Response, what: string): Promise<T> {
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** An operator command, `POST /api/v1/services/<service>/<action>`; answers the new state. */
export async function command(adminUrl: string, service: string, action: string, body: object): Promise<ServiceRead> {
  const res = await fetch(`${adminUrl}/api/v1/services/${service}/${action}`, { method: 'POST', headers: HEADERS, body: JSON.stringify(body) });
  return answer<ServiceRead>(res, `POST ${action} on ${service}`);
}

export async function readService(adminUrl: string, service: string): Promise<ServiceRead> {
  return answer<ServiceRead>(await fetch(`${adminUrl}/api/v1/services/${service}`, { headers: HEADERS }), `GET ${service}`);
}

/** The service's audit log, newest first. */
export async function readAudit(adminUrl: string, service: string, limit = 100): Promise<AuditRead[]> {
  const res = await fetch(`${adminUrl}/api/v1/audit?service=${service}&limit=${limit}`, { headers: HEADERS });
  return (await answer<{ entries: AuditRead[] }>(res, `GET audit of ${service}`)).entries;
}

/** Whether the replica says it holds the analysis lease (`switchyard_analysis_leader` on /metrics); null when it did not answer. */
export async function holdsLease(adminUrl: string): Promise<boolean | null> {
  try {
    const res = await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(1_000) });
    const text = await res.text();
    return /^switchyard_analysis_leader 1$/m.test(text);
  } catch {
    return null;
  }
}

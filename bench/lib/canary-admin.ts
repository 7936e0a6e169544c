/** What the admin API says of the bench's service. */
export interface ServiceState {
  readonly phase: string;
  readonly weight: number;
  readonly lastVerdict?: { readonly result?: string; readonly reason?: string } | null;
}

/** The bench's hold on a fixed canary of v2 through a gateway's admin API. */
export interface CanaryAdmin {
  state(): Promise<ServiceState>;
  /** Starts v2 as the candidate at the bench's weight. */
  start(): Promise<void>;
  /** Puts the canary back if something (the analysis, say) moved it, and says what it found; null when it was in place. */
  ensure(): Promise<string | null>;
}

export function canaryAdmin(adminUrl: string, service: string, token: string, percent: number, reason: string): CanaryAdmin {
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const command = async (path: string, body: unknown) => {
    const res = await fetch(`${adminUrl}/api/v1/services/${service}/${path}`, { method: 'POST', headers: auth, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`admin POST ${path}: HTTP ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  };
  const state = async () => {
    const res = await fetch(`${adminUrl}/api/v1/services/${service}`, { headers: auth });
    return (await res.json()) as ServiceState;
  };
  const start = async () => {
    await command('rollout', { candidate: 'v2', reason });
    await command('weight', { weight: percent, reason });
  };
  return {
    state,
    start,
    async ensure() {
      const s = await state();
      if (s.phase === 'progressing' && s.weight === percent) return null;
      if (s.phase === 'progressing') await command('weight', { weight: percent, reason });
      else await start();
      const verdict = s.lastVerdict === null || s.lastVerdict === undefined ? '' : `, last verdict ${s.lastVerdict.result ?? '?'}: ${s.lastVerdict.reason ?? ''}`;
      return `${s.phase} at ${s.weight} %${verdict}`;
    },
  };
}

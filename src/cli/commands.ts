import { Option, type Command } from 'commander';
import { adminTls, type AdminTls, type GivenFile } from './admin-tls.js';
import { AdminClient, DEFAULT_ADMIN_URL, seg, type Json } from './api-client.js';
import type { TlsGiven } from './connect-errors.js';
import { usageError } from './exit-codes.js';
import { formatApplied, formatAssignment, formatAudit, formatOverride, formatOverrides, formatService, formatServices } from './format.js';
import type { CliIo } from './io.js';
import { tlsFetch } from './tls-fetch.js';
import { formatVerdictReport } from './verdict-report.js';

/**
 * The operator commands: each one is a single admin API call, printed as a
 * table for people or as the API's own JSON with --json. The gateway decides
 * everything (validation, release windows, If-Match); the CLI only parses syntax.
 */

interface GlobalOptions {
  readonly adminUrl?: string;
  readonly token?: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly json?: boolean;
  readonly force?: boolean;
  readonly ifMatch?: string;
}

interface Context {
  readonly client: AdminClient;
  readonly globals: GlobalOptions;
  print(body: Json, human: (body: Json) => string): void;
}

export function addGlobalOptions(program: Command): void {
  program
    .option('--admin-url <url>', `admin API base URL, http:// or https:// (env SWITCHYARD_ADMIN_URL, default ${DEFAULT_ADMIN_URL})`)
    .option('--token <token>', 'admin bearer token, needed with mutual TLS too (env SWITCHYARD_ADMIN_TOKEN)')
    .option('--ca <file>', "CA certificate (PEM) that signed the admin port's certificate, trusted besides the system's (env SWITCHYARD_ADMIN_CA)")
    .option('--cert <file>', 'client certificate (PEM) for an admin port with mutual TLS (admin.tls.clientAuth); needs --key (env SWITCHYARD_ADMIN_CERT)')
    .option('--key <file>', 'unencrypted private key (PEM) of --cert (env SWITCHYARD_ADMIN_KEY)')
    .option('--json', "print the API's JSON instead of a table")
    .option('--force', 'release outside the release windows (rollout commands; needs --reason, which goes to the audit log)')
    .option('--if-match <revision>', 'apply a rollout command only if the service is still at this revision (else exit 1, 409)');
}

function contextOf(cmd: Command, io: CliIo): Context {
  const globals = cmd.optsWithGlobals<GlobalOptions>();
  const adminUrl = globals.adminUrl ?? nonEmpty(io.env['SWITCHYARD_ADMIN_URL']) ?? DEFAULT_ADMIN_URL;
  if (!/^https?:\/\//.test(adminUrl)) throw usageError(`--admin-url: must be an http:// or https:// URL (got ${JSON.stringify(adminUrl)})`);
  const token = globals.token ?? nonEmpty(io.env['SWITCHYARD_ADMIN_TOKEN']);
  const tls = adminTls(globals, io.env, adminUrl);
  // Without TLS settings, what worked before: the global fetch (or the one tests pass).
  const transport = tls === null ? io.fetch : tlsFetch(tls);
  const client = new AdminClient({ adminUrl, token, tls: tlsGiven(tls), ...(transport === undefined ? {} : { fetch: transport }) });
  return {
    client,
    globals,
    print(body, human) {
      io.out(`${globals.json === true ? JSON.stringify(body, null, 2) : human(body)}\n`);
    },
  };
}

/** The TLS files as the hints of a failed connection name them (`--ca /etc/switchyard/ca.pem`). */
function tlsGiven(tls: AdminTls | null): TlsGiven {
  const named = (file: GivenFile | null) => (file === null ? null : `${file.source} ${file.file}`);
  return { ca: named(tls?.ca ?? null), cert: named(tls?.cert ?? null) };
}

function nonEmpty(text: string | undefined): string | undefined {
  return text === undefined || text === '' ? undefined : text;
}

/** "25" or "25%"; the gateway checks the range and the decimals. */
export function parsePercent(text: string, what = 'weight'): number {
  const n = Number(text.trim().replace(/%$/, ''));
  if (text.trim() === '' || !Number.isFinite(n)) throw usageError(`${what}: must be a percent like 25 or 12.5 (got ${JSON.stringify(text)})`);
  return n;
}

/**
 * "shadow:10:5m,5:1m,25:2m,100" -> [{shadow: 10, bake: "5m"}, {weight: 5, bake: "1m"}, ...];
 * a step without a bake takes the gateway's default.
 */
export function parseSteps(text: string): ({ weight: number; bake?: string } | { shadow: number; bake?: string })[] {
  return text.split(',').map((item, i) => {
    const parts = item.trim().split(':');
    const shadow = parts[0] === 'shadow';
    const [amount = '', bake, ...rest] = shadow ? parts.slice(1) : parts;
    if (rest.length > 0 || amount === '' || bake === '') {
      throw usageError(`--steps: step ${i + 1} ${JSON.stringify(item)} must look like WEIGHT:BAKE or shadow:PERCENT:BAKE, e.g. "shadow:10:5m,5:1m,100:1m"`);
    }
    const step = shadow ? { shadow: parsePercent(amount, 'shadow') } : { weight: parsePercent(amount) };
    return bake === undefined ? step : { ...step, bake };
  });
}

type ReasonOpts = { reason?: string };

/** A rollout command (POST; PUT/DELETE for the shadow) with force and If-Match from the global options. */
async function rolloutCommand(ctx: Context, service: string, action: string, body: Record<string, unknown>, label = action, method = 'POST'): Promise<void> {
  const state = await ctx.client.request(method, `/services/${seg(service)}/${action}`, {
    body: { ...body, ...(ctx.globals.force === true ? { force: true } : {}) },
    ifMatch: ctx.globals.ifMatch,
  });
  ctx.print(state, (s) => formatApplied(label, s));
}

function withReason(opts: ReasonOpts): Record<string, unknown> {
  return opts.reason === undefined ? {} : { reason: opts.reason };
}

export function addOperatorCommands(program: Command, io: CliIo): void {
  const ctx = (cmd: Command) => contextOf(cmd, io);

  program
    .command('status')
    .description('show every service, or one service in detail')
    .argument('[service]', 'service name')
    .option('--checks', "with a service: also every check of its last verdict (as explain-verdict prints it)")
    .action(async (service: string | undefined, opts: { checks?: boolean }, cmd: Command) => {
      if (service === undefined && opts.checks === true) throw usageError('--checks: give a service, e.g. switchyard status fraud-scorer --checks');
      const c = ctx(cmd);
      if (service === undefined) {
        c.print(await c.client.get('/services'), formatServices);
        return;
      }
      const now = Date.now();
      const report = (s: Json) => (opts.checks === true ? `${formatService(s, now)}\n\n${formatVerdictReport(s, now)}` : formatService(s, now));
      c.print(await c.client.get(`/services/${seg(service)}`), report);
    });

  program
    .command('explain-verdict')
    .description("explain a service's last analysis verdict: why, which rollout, what holds it, and every check with its meaning")
    .argument('<service>', 'service name')
    .action(async (service: string, _opts: unknown, cmd: Command) => {
      const c = ctx(cmd);
      c.print(await c.client.get(`/services/${seg(service)}`), (s) => formatVerdictReport(s, Date.now()));
    });

  program
    .command('start')
    .description('start a rollout of a candidate version')
    .argument('<service>', 'service name')
    .argument('<candidate>', 'candidate version')
    .addOption(new Option('--strategy <strategy>', 'rollout strategy (default: the service config)').choices(['canary', 'blue-green']))
    .option('--steps <steps>', 'canary steps as WEIGHT:BAKE, shadow steps first as shadow:PERCENT:BAKE, e.g. "shadow:10:5m,5:1m,100:1m" (default: the service config)')
    .option('--weight <percent>', 'start a manual canary at this weight: no steps, operators move it, the analysis may roll it back but never advances it')
    .option('--salt <salt>', 'bucket salt, which decides which users fall below the weight (default: <service>:<candidate>, the same users each time this candidate is started)')
    .option('--reason <text>', 'why, for the audit log')
    .action(async (service: string, candidate: string, opts: ReasonOpts & { strategy?: string; steps?: string; weight?: string; salt?: string }, cmd: Command) => {
      // --weight with --steps (or blue-green) goes to the gateway as asked: it alone decides what a start may combine.
      const body = {
        candidate,
        ...(opts.strategy === undefined ? {} : { strategy: opts.strategy }),
        ...(opts.steps === undefined ? {} : { steps: parseSteps(opts.steps) }),
        ...(opts.weight === undefined ? {} : { weight: parsePercent(opts.weight, '--weight') }),
        ...(opts.salt === undefined ? {} : { salt: opts.salt }),
        ...withReason(opts),
      };
      await rolloutCommand(ctx(cmd), service, 'rollout', body, 'start');
    });

  program
    .command('weight')
    .description("set the candidate's weight in percent")
    .argument('<service>', 'service name')
    .argument('<percent>', 'weight 0..100, at most two decimals')
    .option('--reason <text>', 'why, for the audit log')
    .action(async (service: string, weight: string, opts: ReasonOpts, cmd: Command) => {
      await rolloutCommand(ctx(cmd), service, 'weight', { weight: parsePercent(weight), ...withReason(opts) });
    });

  const simple = {
    pause: 'pause the rollout where it is',
    resume: 'resume a paused rollout',
    promote: 'make the candidate the new stable',
    switch: 'blue-green: send all traffic to the candidate',
  } as const;
  for (const [action, description] of Object.entries(simple)) {
    program
      .command(action)
      .description(description)
      .argument('<service>', 'service name')
      .option('--reason <text>', 'why, for the audit log')
      .action(async (service: string, opts: ReasonOpts, cmd: Command) => {
        await rolloutCommand(ctx(cmd), service, action, withReason(opts));
      });
  }

  program
    .command('rollback')
    .description('send all traffic back to stable')
    .argument('<service>', 'service name')
    .requiredOption('--reason <text>', 'why, for the audit log')
    .action(async (service: string, opts: Required<ReasonOpts>, cmd: Command) => {
      await rolloutCommand(ctx(cmd), service, 'rollback', { reason: opts.reason });
    });

  program
    .command('shadow')
    .description("mirror a share of live traffic to a version whose answers are compared with stable's, never returned; or --stop")
    .argument('<service>', 'service name')
    .argument('[version]', 'version to shadow (not stable)')
    .option('--percent <percent>', 'share of sticky keys mirrored, more than 0 and at most 100')
    .option('--stop', 'stop mirroring')
    .option('--reason <text>', 'why, for the audit log')
    .action(async (service: string, version: string | undefined, opts: ReasonOpts & { percent?: string; stop?: boolean }, cmd: Command) => {
      if (opts.stop === true) {
        if (version !== undefined || opts.percent !== undefined) throw usageError('--stop: give only the service (and --reason), not a version or --percent');
        await rolloutCommand(ctx(cmd), service, 'shadow', withReason(opts), 'shadow stop', 'DELETE');
        return;
      }
      if (version === undefined) throw usageError('shadow: give a version and --percent to shadow it, or --stop');
      if (opts.percent === undefined) throw usageError('shadow: --percent is required with a version (the share of sticky keys mirrored, e.g. 10)');
      await rolloutCommand(ctx(cmd), service, 'shadow', { version, percent: parsePercent(opts.percent, '--percent'), ...withReason(opts) }, 'shadow', 'PUT');
    });

  program
    .command('explain')
    .description('which version a user key gets, and why')
    .argument('<service>', 'service name')
    .argument('<key>', 'user key (the sticky header or cookie value)')
    .action(async (service: string, key: string, _opts: unknown, cmd: Command) => {
      const c = ctx(cmd);
      c.print(await c.client.get(`/services/${seg(service)}/assignment`, { key }), formatAssignment);
    });

  const overrides = program.command('overrides').description('pin user keys to a version, for a while');
  overrides
    .command('list')
    .description("list a service's overrides with the time left")
    .argument('<service>', 'service name')
    .action(async (service: string, _opts: unknown, cmd: Command) => {
      const c = ctx(cmd);
      c.print(await c.client.get(`/services/${seg(service)}/overrides`), formatOverrides);
    });
  overrides
    .command('add')
    .description('pin a key to a version')
    .argument('<service>', 'service name')
    .argument('<key>', 'user key')
    .argument('<version>', 'version to pin the key to')
    .requiredOption('--reason <text>', 'why, for the audit log')
    .option('--ttl <duration>', 'how long, e.g. 30m, 1d (default: the config)')
    .action(async (service: string, key: string, version: string, opts: Required<ReasonOpts> & { ttl?: string }, cmd: Command) => {
      const c = ctx(cmd);
      const body = { version, reason: opts.reason, ...(opts.ttl === undefined ? {} : { ttl: opts.ttl }) };
      c.print(await c.client.request('PUT', `/services/${seg(service)}/overrides/${seg(key)}`, { body }), (o) => formatOverride(o, 'pinned'));
    });
  overrides
    .command('remove')
    .description('unpin a key')
    .argument('<service>', 'service name')
    .argument('<key>', 'user key')
    .action(async (service: string, key: string, _opts: unknown, cmd: Command) => {
      const c = ctx(cmd);
      const body = await c.client.request('DELETE', `/services/${seg(service)}/overrides/${seg(key)}`);
      c.print(body, (b) => formatOverride((b['removed'] ?? {}) as Json, 'unpinned'));
    });

  program
    .command('audit')
    .description('the audit log, newest first')
    .option('--service <service>', 'only this service')
    .option('--limit <n>', 'entries per page (1..500, default 50)')
    .option('--before <id>', 'the page after this entry id (printed as "more:")')
    .action(async (opts: { service?: string; limit?: string; before?: string }, cmd: Command) => {
      const c = ctx(cmd);
      c.print(await c.client.get('/audit', { service: opts.service, limit: opts.limit, before: opts.before }), formatAudit);
    });
}

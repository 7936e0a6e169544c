import { execFile, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { tlsFileProblems } from '../../src/tls/tls-registry.js';

// No container engine runs here: docker-compose.yml is checked for structure,
// and the files it mounts are checked by the tools that will read them
// (promtool, amtool, the gateway's own config loader).

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface ComposeService {
  image?: string;
  build?: string | { context: string; dockerfile?: string };
  entrypoint?: string[];
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: string[] | Record<string, { condition: string }>;
  profiles?: string[];
  healthcheck?: { test: string[] };
}

const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, ComposeService>; volumes?: Record<string, unknown> };
const services = compose.services;

/** A gateway's environment with each `${NAME:-default}` at its default, as compose gives it without a .env. */
function resolvedEnv(name: string): Record<string, string> {
  return Object.fromEntries(Object.entries(services[name]!.environment!).map(([k, v]) => [k, v.replace(/^\$\{[A-Z_]+:-(.*)\}$/, '$1')]));
}

function run(binary: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(binary, args, { cwd: ROOT, encoding: 'utf8', timeout: 15_000 });
  if (result.error) throw new Error(`${binary} could not run: ${result.error.message}`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('docker-compose.yml', () => {
  it('has Redis, two gateway replicas, two sample models, Prometheus, Alertmanager and Grafana; the tls profile adds a TLS gateway and its certificates', () => {
    const inProfile = (profile: string | undefined) =>
      Object.keys(services)
        .filter((name) => services[name]!.profiles?.[0] === profile)
        .sort();
    expect(inProfile(undefined)).toEqual(['alertmanager', 'gateway-1', 'gateway-2', 'grafana', 'model-v1', 'model-v2', 'prometheus', 'redis']);
    expect(inProfile('tls')).toEqual(['gateway-tls', 'tls-certs']);
    for (const [name, service] of Object.entries(services)) {
      expect(service.image ?? service.build, `${name} has an image or a build`).toBeTruthy();
    }
  });

  it('builds the gateways and models from the Dockerfile and serves the compose config', () => {
    const dockerfile = read('Dockerfile');
    expect(dockerfile).toMatch(/^FROM node:24-slim/m);
    expect(dockerfile).toMatch(/npm ci/);
    expect(dockerfile).toMatch(/npm run build/);
    // The build compiles src and copies its assets (the console, the KServe proto) into dist.
    for (const dir of ['scripts', 'src', 'proto']) expect(dockerfile).toContain(`COPY ${dir} ./${dir}`);
    expect(dockerfile).toContain('"dist/src/cli/main.js", "serve", "--config", "/config/compose.yaml"');
    for (const name of ['gateway-1', 'gateway-2', 'model-v1', 'model-v2']) {
      const build = services[name]!.build;
      expect(typeof build === 'object' ? build.dockerfile : 'Dockerfile', name).toBe('Dockerfile');
      expect(existsSync(join(ROOT, typeof build === 'object' ? build.context : build!, 'Dockerfile'))).toBe(true);
    }
    for (const name of ['gateway-1', 'gateway-2']) {
      expect(services[name]!.command).toEqual(['node', 'dist/src/cli/main.js', 'serve', '--config', '/config/compose.yaml']);
      expect(services[name]!.volumes).toContain('./config/compose.yaml:/config/compose.yaml:ro');
      expect(Object.keys(services[name]!.depends_on ?? {})).toContain('redis');
    }
    for (const name of ['model-v1', 'model-v2']) {
      expect(services[name]!.command).toEqual(['node', 'dist/src/demo/sample-backend-main.js']);
      expect(existsSync(join(ROOT, 'src/demo/sample-backend-main.ts'))).toBe(true);
      expect(services[name]!.environment?.VERSION).toBe(name.slice('model-'.length));
    }
  });

  it('publishes every port in a valid form, admin ports on loopback only, none twice', () => {
    const hostPorts: string[] = [];
    for (const [name, service] of Object.entries(services)) {
      for (const mapping of service.ports ?? []) {
        const m = /^(?:(\d+\.\d+\.\d+\.\d+):)?(\d+):(\d+)$/.exec(mapping);
        expect(m, `${name}: ${mapping}`).not.toBeNull();
        const [, host = '0.0.0.0', hostPort, containerPort] = m!;
        for (const p of [hostPort!, containerPort!]) expect(Number(p)).toBeGreaterThan(0);
        hostPorts.push(`${host}:${hostPort}`);
        if (containerPort === '8081') expect(host, `${name} admin port`).toBe('127.0.0.1');
      }
    }
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
  });

  it('mounts only files that exist in the repository', () => {
    let mounts = 0;
    for (const [name, service] of Object.entries(services)) {
      for (const volume of service.volumes ?? []) {
        const [source] = volume.split(':');
        if (!source!.startsWith('.')) continue;
        mounts++;
        expect(existsSync(join(ROOT, source!)) && statSync(join(ROOT, source!)).isFile(), `${name}: ${source} is a file`).toBe(true);
      }
    }
    expect(mounts).toBeGreaterThanOrEqual(7);
  });

  it('depends only on services it defines', () => {
    for (const [name, service] of Object.entries(services)) {
      const deps = Array.isArray(service.depends_on) ? service.depends_on : Object.keys(service.depends_on ?? {});
      for (const dep of deps) expect(Object.keys(services), `${name} depends on ${dep}`).toContain(dep);
    }
  });

  it('gives the gateway a config it accepts, with Redis, an open admin port and the tokens of docker-compose.yml', () => {
    const config = parseConfig(read('config/compose.yaml'), resolvedEnv('gateway-1'));
    expect(config.store.redis).toMatchObject({ url: 'redis://redis:6379' });
    expect(config.admin.listen.host).toBe('0.0.0.0');
    const alertmanagerToken = config.admin.tokens.find((t) => t.name === 'alertmanager');
    expect(alertmanagerToken?.role).toBe('operator');
    // Alertmanager posts with the same token the gateways accept.
    const am = parse(read('config/alertmanager/alertmanager.yml')) as {
      receivers: Array<{ name: string; webhook_configs?: Array<{ url: string; http_config: { authorization: { credentials: string } } }> }>;
    };
    const hooks = am.receivers.flatMap((r) => r.webhook_configs ?? []);
    expect(hooks.map((h) => h.url).sort()).toEqual(['http://gateway-1:8081/api/v1/alerts/alertmanager', 'http://gateway-2:8081/api/v1/alerts/alertmanager']);
    for (const hook of hooks) expect(hook.http_config.authorization.credentials).toBe(alertmanagerToken?.token);
    // The gateway's targets are the compose model services.
    const targets = Object.values(config.services).flatMap((s) => Object.values(s.versions).flatMap((v) => v.targets.map(String)));
    for (const target of targets) expect(Object.keys(services)).toContain(new URL(target).hostname);
  });
});

describe('the tls profile', () => {
  const gateway = services['gateway-tls']!;
  const tlsConfig = () => parseConfig(read('config/compose-tls.yaml'), resolvedEnv('gateway-tls'));

  /** Runs config/tls/make-certs.sh as the tls-certs service does, into a fresh directory instead of the volume. */
  function makeCerts(dir = mkdtempSync(join(tmpdir(), 'sy-compose-tls-')), mode: string[] = []): string {
    const result = spawnSync('sh', ['config/tls/make-certs.sh', dir, ...mode], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
    return dir;
  }
  const pem = (dir: string, file: string) => readFileSync(join(dir, file), 'utf8');

  it('gateway-tls serves compose-tls.yaml: the services of compose.yaml, TLS on both ports and mutual TLS on the admin port', () => {
    expect(gateway.command).toEqual(['node', 'dist/src/cli/main.js', 'serve', '--config', '/config/compose-tls.yaml']);
    expect(gateway.volumes).toContain('./config/compose-tls.yaml:/config/compose-tls.yaml:ro');
    const config = tlsConfig();
    expect(config.services).toEqual(parseConfig(read('config/compose.yaml'), resolvedEnv('gateway-1')).services);
    expect(config.store.redis).toMatchObject({ url: 'redis://redis:6379' });
    expect(config.admin.tls).toEqual({ cert: '/tls/gateway.pem', key: '/tls/gateway-key.pem', ca: '/tls/ca.pem', clientAuth: 'require', minVersion: 'TLSv1.2' });
    expect(config.proxy.tls).toMatchObject({ cert: '/tls/gateway.pem', key: '/tls/gateway-key.pem' });
    expect(gateway.ports).toContain(`${config.proxy.listen.port}:${config.proxy.listen.port}`);
    expect(gateway.ports).toContain(`127.0.0.1:8444:${config.admin.listen.port}`);
  });

  it('mounts the volume tls-certs writes: read-write there, read-only in the gateway, which waits for it', () => {
    expect(Object.keys(compose.volumes ?? {})).toContain('switchyard-tls');
    const certs = services['tls-certs']!;
    expect(certs.entrypoint).toEqual(['/bin/sh', '/make-certs.sh']);
    expect(certs.command).toEqual(['/tls']);
    expect(certs.volumes).toEqual(['./config/tls/make-certs.sh:/make-certs.sh:ro', 'switchyard-tls:/tls']);
    expect(gateway.volumes).toContain('switchyard-tls:/tls:ro');
    expect(gateway.depends_on).toMatchObject({ 'tls-certs': { condition: 'service_completed_successfully' } });
  });

  it('make-certs.sh makes every file the config and the CLI settings name, and the gateway accepts them', () => {
    const dir = makeCerts();
    const config = parseConfig(read('config/compose-tls.yaml').replaceAll('/tls/', `${dir}/`), resolvedEnv('gateway-tls'));
    expect(tlsFileProblems(config, Date.now())).toEqual([]);
    const ca = new X509Certificate(pem(dir, 'ca.pem'));
    const server = new X509Certificate(pem(dir, 'gateway.pem'));
    const cli = new X509Certificate(pem(dir, 'cli.pem'));
    for (const name of ['gateway-tls', 'localhost']) expect(server.checkHost(name), name).toBe(name);
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect([server.verify(ca.publicKey), cli.verify(ca.publicKey)]).toEqual([true, true]);
    const env = resolvedEnv('gateway-tls');
    expect(env['SWITCHYARD_ADMIN_URL']).toBe(`https://localhost:${config.admin.listen.port}`);
    for (const name of ['SWITCHYARD_ADMIN_CA', 'SWITCHYARD_ADMIN_CERT', 'SWITCHYARD_ADMIN_KEY']) {
      expect(existsSync(env[name]!.replace(/^\/tls\//, `${dir}/`)), name).toBe(true);
    }
  });

  it('make-certs.sh keeps what it made on a second run, and renew issues a new gateway certificate from the same CA', () => {
    const dir = makeCerts();
    const before = { ca: pem(dir, 'ca.pem'), gateway: pem(dir, 'gateway.pem'), cli: pem(dir, 'cli.pem') };
    makeCerts(dir);
    expect({ ca: pem(dir, 'ca.pem'), gateway: pem(dir, 'gateway.pem'), cli: pem(dir, 'cli.pem') }).toEqual(before);
    makeCerts(dir, ['renew']);
    expect(pem(dir, 'ca.pem')).toBe(before.ca);
    expect(pem(dir, 'cli.pem')).toBe(before.cli);
    const renewed = new X509Certificate(pem(dir, 'gateway.pem'));
    expect(renewed.serialNumber).not.toBe(new X509Certificate(before.gateway).serialNumber);
    expect(renewed.verify(new X509Certificate(before.ca).publicKey)).toBe(true);
  });

  it("gateway-tls's healthcheck presents the client certificate and passes on a 200 from /readyz only", async () => {
    const dir = makeCerts();
    let status = 200;
    const admin = createServer({ cert: pem(dir, 'gateway.pem'), key: pem(dir, 'gateway-key.pem'), ca: pem(dir, 'ca.pem'), requestCert: true, rejectUnauthorized: true }, (req, res) => {
      res.writeHead(req.url === '/readyz' ? status : 404).end();
    });
    await new Promise<void>((done) => admin.listen(0, '127.0.0.1', done));
    const [cmd, node, flag, script] = gateway.healthcheck!.test;
    expect([cmd, node, flag]).toEqual(['CMD', 'node', '-e']);
    const probe = script!.replaceAll('/tls/', `${dir}/`).replace('localhost:8081', `localhost:${(admin.address() as AddressInfo).port}`);
    const exitOf = () => new Promise<number>((done) => execFile(process.execPath, ['-e', probe], { timeout: 15_000 }, (err) => done(err === null ? 0 : Number(err.code))));
    try {
      expect(await exitOf()).toBe(0);
      status = 503;
      expect(await exitOf()).toBe(1);
    } finally {
      admin.close();
    }
  });
});

describe('Prometheus and Alertmanager configs', () => {
  it('promtool accepts prometheus.yml (with its rule file)', () => {
    const { status, output } = run('promtool', ['check', 'config', 'config/prometheus/prometheus.yml']);
    expect(output).toContain('SUCCESS');
    expect(status, output).toBe(0);
  });

  it('promtool accepts alerts.yml, whose rule labels service and version', () => {
    const { status, output } = run('promtool', ['check', 'rules', 'config/prometheus/alerts.yml']);
    expect(status, output).toBe(0);
    const rules = parse(read('config/prometheus/alerts.yml')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
    const rule = rules.groups.flatMap((g) => g.rules).find((r) => r.alert === 'SwitchyardCandidateErrorRatioHigh');
    expect(rule?.expr).toMatch(/by \(service, version\)/);
  });

  it('SwitchyardRolloutHeld reports a paused or held rollout once per service and reason, as a ticket after its `for`', () => {
    const rules = parse(read('config/prometheus/alerts.yml')) as {
      groups: Array<{ rules: Array<{ alert: string; expr: string; for?: string; labels?: Record<string, string> }> }>;
    };
    const rule = rules.groups.flatMap((g) => g.rules).find((r) => r.alert === 'SwitchyardRolloutHeld');
    expect(rule?.expr).toMatch(/max by \(service, why\) \(switchyard_rollout_held\)/);
    expect(rule?.for).toBe('30m');
    expect(rule?.labels?.severity).toBe('ticket');
  });

  it('promtool test rules: the held alert fires after its `for` and not before, and not for a rollout that moved again', () => {
    const { status, output } = run('promtool', ['test', 'rules', 'config/prometheus/alerts.test.yml']);
    expect(output).toContain('SUCCESS');
    expect(status, output).toBe(0);
  });

  it('Alertmanager sends SwitchyardRolloutHeld to a person, never to the gateway webhook that rolls back', () => {
    // amtool prints the receivers an alert with these labels reaches, comma-separated, on stdout.
    const receivers = (labels: string[]): string[] => {
      const args = ['config', 'routes', 'test', '--config.file=config/alertmanager/alertmanager.yml', ...labels];
      const result = spawnSync('amtool', args, { cwd: ROOT, encoding: 'utf8', timeout: 15_000 });
      expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
      return result.stdout.trim().split(',');
    };
    expect(receivers(['alertname=SwitchyardCandidateErrorRatioHigh', 'service=fraud-scorer', 'version=v2', 'severity=page'])).toEqual(['switchyard']);
    for (const why of ['paused', 'sample-ratio', 'shadow-drift']) {
      expect(receivers(['alertname=SwitchyardRolloutHeld', 'service=fraud-scorer', `why=${why}`, 'severity=ticket']), why).not.toContain('switchyard');
    }
  });

  it('Prometheus scrapes both gateways and sends alerts to Alertmanager', () => {
    const prom = parse(read('config/prometheus/prometheus.yml')) as {
      scrape_configs: Array<{ metrics_path?: string; static_configs: Array<{ targets: string[] }> }>;
      alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> };
    };
    const scraped = prom.scrape_configs.flatMap((s) => s.static_configs.flatMap((c) => c.targets));
    expect(scraped.sort()).toEqual(['gateway-1:8081', 'gateway-2:8081']);
    expect(prom.alerting.alertmanagers[0]!.static_configs[0]!.targets).toEqual(['alertmanager:9093']);
  });

  it('amtool accepts alertmanager.yml', () => {
    const { status, output } = run('amtool', ['check-config', 'config/alertmanager/alertmanager.yml']);
    expect(output).toContain('SUCCESS');
    expect(status, output).toBe(0);
  });
});

describe('Grafana dashboard', () => {
  const text = read('config/grafana/switchyard-dashboard.json');
  const dashboard = JSON.parse(text) as { uid: string; panels: Array<{ title: string; targets?: Array<{ expr: string }> }> };

  it('charts request rate, error ratio and p99 per version, weight and phase', () => {
    const titles = dashboard.panels.map((p) => p.title);
    for (const t of ['Request rate per version', 'Error ratio per version', 'p99 latency per version', 'Candidate weight', 'Phase']) expect(titles).toContain(t);
    for (const panel of dashboard.panels) expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
  });

  it('uses only metric names the gateway exports', () => {
    const sources = readdirSync(join(ROOT, 'src/metrics'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => read(join('src/metrics', f)))
      .join('\n');
    const exported = new Set([...sources.matchAll(/['"`](switchyard_[a-z0-9_]+)['"`]/g)].map((m) => m[1]!));
    const used = new Set(dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => [...t.expr.matchAll(/\bswitchyard_[a-z0-9_]+/g)].map((m) => m[0]))));
    expect(used.size).toBeGreaterThanOrEqual(5);
    for (const name of used) {
      const base = exported.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
      expect(exported, `${name} is exported by src/metrics`).toContain(base);
    }
  });

  it('the alert rule uses only exported metric names too', () => {
    const sources = readdirSync(join(ROOT, 'src/metrics')).map((f) => read(join('src/metrics', f))).join('\n');
    for (const [name] of read('config/prometheus/alerts.yml').matchAll(/\bswitchyard_[a-z0-9_]+/g)) expect(sources).toContain(`'${name}'`);
  });
});

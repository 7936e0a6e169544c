// npm pretest: the Debian packages the tests need. Installs them when running as
// root with apt-get (CI, containers); otherwise says in one line how to get them.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const REQUIRED = [
  { binary: 'redis-server', package: 'redis-server' },
  { binary: 'redis-sentinel', package: 'redis-sentinel' },
  { binary: 'promtool', package: 'prometheus' },
  { binary: 'prometheus', package: 'prometheus' },
  { binary: 'prometheus-alertmanager', package: 'prometheus-alertmanager' },
  { binary: 'amtool', package: 'prometheus-alertmanager' },
  { binary: 'chromium', package: 'chromium' },
  { binary: 'openssl', package: 'openssl' },
  { binary: 'curl', package: 'curl' },
];

const onPath = (name) =>
  (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });

const missing = () => REQUIRED.filter((req) => !onPath(req.binary));

if (missing().length > 0 && process.getuid?.() === 0 && onPath('apt-get')) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
  spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing().map((req) => req.package)], { stdio: 'inherit', env });
}

const still = missing();
if (still.length > 0) {
  const binaries = still.map((req) => req.binary).join(', ');
  const packages = [...new Set(still.map((req) => req.package))].join(' ');
  console.error(`switchyard tests need ${binaries}: install ${still.length === 1 ? 'it' : 'them'} with "apt-get install ${packages}"`);
  process.exit(1);
}

// Switchyard web console: plain ES module, no build step. Talks to /api/v1 on
// this origin with the token the operator typed in, kept only in sessionStorage.
import uPlot from '/vendor/uplot/uPlot.esm.js';
import { durationText } from '/duration-text.js';

const TOKEN_KEY = 'switchyard.token';
const POLL_MS = 2000;
const SERIES_MINUTES = 5;
const AUDIT_LIMIT = 30;
const COLORS = ['#2f5bea', '#e8590c', '#12805c', '#9c36b5', '#c01048', '#0b7285'];

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** Builds an element: h('div', { class: 'x', text: 'y' }, ...children). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'text') el.textContent = String(value);
    else if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) el.append(child);
  return el;
}

// ---- token -----------------------------------------------------------------

const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail ?? body?.title ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.code;
  }
}

async function api(method, path, body, headers = {}) {
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token.get() ?? ''}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
  });
  const text = await res.text();
  let json = null;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    json = null;
  }
  if (!res.ok) {
    if (res.status === 401) signOut('The token was refused; enter a valid admin token.');
    throw new ApiError(res.status, json);
  }
  return json;
}

// ---- status line -------------------------------------------------------------

let statusTimer = 0;
function showStatus(message, kind = 'error') {
  const el = $('status');
  el.textContent = message;
  el.className = kind === 'info' ? 'status info' : 'status';
  el.hidden = false;
  clearTimeout(statusTimer);
  if (kind === 'info') statusTimer = setTimeout(() => (el.hidden = true), 4000);
}

// ---- confirm dialog ------------------------------------------------------------

/** Resolves with the reason typed in, or null when cancelled. */
function confirmAction(title, text, reasonRequired) {
  const dialog = /** @type {HTMLDialogElement} */ ($('confirm'));
  const reason = /** @type {HTMLTextAreaElement} */ ($('confirm-reason'));
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-required').textContent = reasonRequired ? '(required, goes to the audit log)' : '(optional, goes to the audit log)';
  reason.value = '';
  reason.required = reasonRequired;
  return new Promise((resolve) => {
    const form = $('confirm-form');
    const cancel = $('confirm-cancel');
    const done = (value) => {
      form.removeEventListener('submit', onSubmit);
      cancel.removeEventListener('click', onCancel);
      dialog.removeEventListener('cancel', onCancel);
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const onSubmit = (event) => {
      event.preventDefault();
      const value = reason.value.trim();
      if (reasonRequired && value === '') {
        reason.setCustomValidity('Say why: the reason goes to the audit log.');
        reason.reportValidity();
        return;
      }
      reason.setCustomValidity('');
      done(value);
    };
    const onCancel = () => done(null);
    form.addEventListener('submit', onSubmit);
    cancel.addEventListener('click', onCancel);
    dialog.addEventListener('cancel', onCancel);
    dialog.showModal();
    reason.focus();
  });
}

// ---- commands ------------------------------------------------------------------

const services = new Map(); // name -> { state, card, charts }

/** A rollout command with If-Match; `label` names it in the status line (the shadow's PUT and DELETE share a path). */
async function command(service, action, body = {}, method = 'POST', label = action) {
  const view = services.get(service);
  const headers = view?.state?.stale === false ? { 'if-match': String(view.state.revision) } : {};
  try {
    const state = await api(method, `/services/${encodeURIComponent(service)}/${action}`, body, headers);
    showStatus(`${service}: ${label} applied (revision ${state.revision}, phase ${state.phase}, weight ${state.weight}%${state.shadow ? `, shadow ${state.shadow.version} on ${state.shadow.percent}%` : ''}).`, 'info');
  } catch (err) {
    const moved = err instanceof ApiError && err.status === 409 && err.code === 'SY_ERR_STALE_REVISION';
    showStatus(`${service}: ${label} failed: ${err.message}${moved ? ' (refreshed; check the state and try again)' : ''}`);
  }
  await refresh();
}

function withReason(reason) {
  const value = reason.trim();
  return value === '' ? {} : { reason: value };
}

// ---- service cards ---------------------------------------------------------------

function fact(label, key) {
  return h('div', {}, h('dt', { text: label }), h('dd', { 'data-field': key, text: '–' }));
}

function createCard(name) {
  const weight = h('input', { type: 'number', min: '0', max: '100', step: '0.01', 'aria-label': `weight for ${name}`, 'data-control': 'weight-input' });
  const reason = h('input', { type: 'text', class: 'reason', maxlength: '1000', placeholder: 'reason (optional for weight, pause, resume)', 'aria-label': `reason for ${name}`, 'data-control': 'reason' });
  const button = (label, control, onclick, cls) => h('button', { type: 'button', 'data-control': control, class: cls, text: label, onclick });

  const controls = h(
    'div',
    { class: 'controls' },
    weight,
    button('Set weight', 'set-weight', () => {
      if (weight.value === '' || !weight.checkValidity()) return showStatus(`${name}: the weight must be a percent 0..100 with at most two decimals.`);
      void command(name, 'weight', { weight: Number(weight.value), ...withReason(reason.value) });
    }, 'primary'),
    reason,
    button('Pause', 'pause', () => void command(name, 'pause', withReason(reason.value))),
    button('Resume', 'resume', () => void command(name, 'resume', withReason(reason.value))),
    button('Promote', 'promote', async () => {
      const why = await confirmAction(`Promote ${name}?`, `Send all traffic of ${name} to candidate ${services.get(name)?.state?.candidate ?? '?'}.`, false);
      if (why !== null) void command(name, 'promote', withReason(why));
    }),
    button('Switch', 'switch', async () => {
      const why = await confirmAction(`Switch ${name}?`, `Blue-green switch of ${name}: all traffic moves to the other version at once.`, false);
      if (why !== null) void command(name, 'switch', withReason(why));
    }),
    button('Roll back', 'rollback', async () => {
      const state = services.get(name)?.state;
      const why = await confirmAction(`Roll back ${name}?`, `Send all traffic of ${name} back to stable ${state?.stable ?? '?'}${state?.candidate ? ` and drop candidate ${state.candidate}` : ''}.`, true);
      if (why !== null) void command(name, 'rollback', { reason: why });
    }, 'danger'),
  );

  // The shadow: a version that gets copies of live requests, its answers compared with stable's and never returned.
  const shadowVersion = h('input', { type: 'text', class: 'shadow-version', maxlength: '63', placeholder: 'version', 'aria-label': `shadow version for ${name}`, 'data-control': 'shadow-version' });
  const shadowPercent = h('input', { type: 'number', min: '0.01', max: '100', step: '0.01', placeholder: '% of keys', 'aria-label': `shadow percent for ${name}`, 'data-control': 'shadow-percent' });
  const shadowControls = h(
    'div',
    { class: 'controls shadow-controls' },
    h('span', { class: 'muted', text: 'shadow' }),
    shadowVersion,
    shadowPercent,
    button('Set shadow', 'set-shadow', () => {
      const version = shadowVersion.value.trim();
      if (version === '') return showStatus(`${name}: name the version to shadow.`);
      if (shadowPercent.value === '' || !shadowPercent.checkValidity() || Number(shadowPercent.value) <= 0) {
        return showStatus(`${name}: the shadow percent must be more than 0 and at most 100, with at most two decimals.`);
      }
      void command(name, 'shadow', { version, percent: Number(shadowPercent.value), ...withReason(reason.value) }, 'PUT', 'set shadow');
    }),
    button('Stop shadow', 'stop-shadow', () => void command(name, 'shadow', withReason(reason.value), 'DELETE', 'stop shadow')),
  );

  const charts = h('div', { class: 'charts' });
  const overrides = h('tbody', { 'data-field': 'overrides' });
  const card = h(
    'article',
    { class: 'card', 'data-service': name, 'aria-label': `service ${name}` },
    h(
      'div',
      { class: 'card-head' },
      h('h3', { text: name }),
      h('span', { class: 'phase', 'data-field': 'phase' }),
      h('span', { class: 'badge held', 'data-field': 'held', text: 'held', hidden: true }),
      h('span', { class: 'badge manual', 'data-field': 'manual', text: 'manual canary', title: 'no steps: operators move it; the analysis may roll it back, never advance it', hidden: true }),
      h('span', { class: 'stale', 'data-field': 'stale', hidden: true }),
    ),
    h('dl', { class: 'facts' }, fact('stable', 'stable'), fact('candidate', 'candidate'), fact('weight', 'weight'), fact('step', 'step'), fact('strategy', 'strategy'), fact('revision', 'revision'), fact('updated', 'updatedAt')),
    h(
      'p',
      { class: 'held-line', 'data-field': 'held-line', hidden: true },
      h('span', { class: 'muted', text: 'held: ' }),
      h('span', { 'data-field': 'held-reason' }),
      h('span', { class: 'muted', 'data-field': 'held-since' }),
    ),
    h('p', { class: 'shadow-line' }, h('span', { class: 'muted', text: 'shadow: ' }), h('span', { 'data-field': 'shadow' })),
    h('p', { class: 'verdict' }, h('span', { class: 'muted', text: 'last verdict: ' }), h('span', { class: 'result', 'data-field': 'verdict' }), h('span', { 'data-field': 'verdict-reason' })),
    checksList(),
    h(
      'p',
      { class: 'verdict shadow-verdict', 'data-field': 'shadow-verdict-line', hidden: true },
      h('span', { class: 'muted', text: 'shadow verdict: ' }),
      h('span', { class: 'result', 'data-field': 'shadow-verdict' }),
      h('span', { 'data-field': 'shadow-verdict-reason' }),
      h('span', { class: 'muted', 'data-field': 'shadow-comparison' }),
    ),
    controls,
    shadowControls,
    charts,
    h('h3', { text: 'Overrides' }),
    h('table', {}, h('thead', {}, h('tr', {}, ...['key', 'version', 'reason', 'author', 'expires in'].map((t) => h('th', { text: t })))), overrides),
  );
  return { card, weight, charts, overrides, chartState: new Map() };
}

function setField(card, key, value) {
  const el = card.querySelector(`[data-field="${key}"]`);
  if (el) el.textContent = value;
}

function ago(iso) {
  if (!iso) return '–';
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return `${Math.max(0, s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return new Date(iso).toLocaleString();
}

/** Every check of the last verdict, folded: the list is long and read when a verdict needs explaining. */
function checksList() {
  const head = h('tr', {}, ...['check', 'result', 'value / threshold', 'meaning'].map((t) => h('th', { text: t })));
  return h(
    'details',
    { class: 'checks', 'data-field': 'checks', hidden: true },
    h('summary', { 'data-field': 'checks-summary' }),
    h('table', {}, h('thead', {}, head), h('tbody', { 'data-field': 'checks-body' })),
  );
}

/** 3 significant digits, exponent form for very large or very small values, '–' where there is no number. */
function figure(v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
  const abs = Math.abs(v);
  if (abs !== 0 && (abs >= 1e6 || abs < 1e-3)) return v.toExponential(2).replace(/\.?0+e/, 'e').replace('e+', 'e');
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3)));
}

function checkRow(check, prefix) {
  return h(
    'tr',
    { 'data-check': check.name },
    h('td', { text: `${prefix}${check.name}` }),
    h('td', { class: `result ${check.result}`, text: check.result }),
    h('td', { class: 'figure', text: `${figure(check.value)} / ${figure(check.threshold)}` }),
    h('td', {}, h('div', { text: check.meaning || '–' }), h('div', { class: 'muted detail', text: check.detail })),
  );
}

/** The live checks, then the shadow's (named after it), each with its result, value against threshold and meaning. */
function renderChecks(card, verdict) {
  const live = verdict?.checks ?? [];
  const shadow = verdict?.shadow ?? null;
  const rows = [...live.map((c) => checkRow(c, '')), ...(shadow?.checks ?? []).map((c) => checkRow(c, `shadow ${shadow.version} · `))];
  card.querySelector('[data-field="checks"]').hidden = rows.length === 0;
  const failing = [...live, ...(shadow?.checks ?? [])].filter((c) => c.result === 'fail').length;
  setField(card, 'checks-summary', `${rows.length} checks of the last verdict${failing === 0 ? '' : `, ${failing} failing`}`);
  card.querySelector('[data-field="checks-body"]').replaceChildren(...rows);
}

/** What holds the rollout: a badge in the head, the reason and since when on its own line. */
function renderHeld(card, held) {
  const badge = card.querySelector('[data-field="held"]');
  badge.hidden = held === null;
  card.querySelector('[data-field="held-line"]').hidden = held === null;
  if (held === null) return;
  badge.title = held.kind;
  setField(card, 'held-reason', held.reason);
  setField(card, 'held-since', ` (${held.kind}, since ${new Date(held.since).toLocaleTimeString()}, ${ago(held.since)})`);
}

function renderState(view, state) {
  const { card, weight } = view;
  const phase = card.querySelector('[data-field="phase"]');
  phase.textContent = state.phase;
  phase.className = `phase ${state.phase}`;
  const stale = card.querySelector('[data-field="stale"]');
  stale.hidden = !state.stale;
  stale.textContent = state.stale ? `stale: ${state.staleReason ?? 'store unreachable'}` : '';
  setField(card, 'stable', state.stable);
  setField(card, 'candidate', state.candidate ?? 'none');
  setField(card, 'weight', `${state.weight}%`);
  const onShadowStep = state.candidate && state.steps[state.step]?.shadow !== undefined;
  card.querySelector('[data-field="manual"]').hidden = !state.manual;
  setField(card, 'step', state.manual ? 'manual' : state.candidate ? `${state.step + 1} / ${state.steps.length}${onShadowStep ? ' (shadow)' : ''}` : '–');
  const shadow = state.shadow;
  setField(card, 'shadow', shadow ? `${shadow.version} on ${shadow.percent}% of keys, since ${ago(shadow.since)}` : 'none');
  setField(card, 'strategy', state.strategy);
  setField(card, 'revision', String(state.revision));
  setField(card, 'updatedAt', ago(state.updatedAt));
  const verdict = state.lastVerdict;
  const result = card.querySelector('[data-field="verdict"]');
  result.textContent = verdict ? verdict.result : 'none yet';
  result.className = `result ${verdict ? verdict.result : ''}`;
  setField(card, 'verdict-reason', verdict ? ` — ${verdict.reason} (${ago(verdict.at)})` : '');
  renderHeld(card, verdict?.held ?? null);
  renderChecks(card, verdict);
  renderShadowVerdict(card, verdict?.shadow ?? null);
  if (document.activeElement !== weight && weight.value === '') weight.placeholder = String(state.weight);
}

/** The shadow's judgement beside the live one: the detector's result, then how its predictions compare with stable's. */
function renderShadowVerdict(card, shadow) {
  card.querySelector('[data-field="shadow-verdict-line"]').hidden = shadow === null;
  if (shadow === null) return;
  const result = card.querySelector('[data-field="shadow-verdict"]');
  result.textContent = `${shadow.version} ${shadow.result}`;
  result.className = `result ${shadow.result}`;
  setField(card, 'shadow-verdict-reason', ` — ${shadow.reason}`);
  const f = shadow.drift?.figures ?? {};
  const pct = (x) => `${(100 * x).toFixed(1)}%`;
  const parts = [];
  if (f.pairs !== undefined) parts.push(`${f.pairs} pairs compared`);
  if (f.disagreementRate !== undefined) {
    const ci = f.disagreementLow !== undefined && f.disagreementHigh !== undefined ? ` (95% ${pct(f.disagreementLow)}–${pct(f.disagreementHigh)})` : '';
    parts.push(`disagreement ${pct(f.disagreementRate)}${ci}`);
  }
  if (f.meanAbsDiff !== undefined) parts.push(`mean |Δ| ${f.meanAbsDiff.toFixed(4)}`);
  if (f.p95AbsDiff !== undefined) parts.push(`p95 |Δ| ${f.p95AbsDiff.toFixed(4)}`);
  if (shadow.drift?.flagged) parts.push(`drift: ${shadow.drift.reason}`);
  setField(card, 'shadow-comparison', parts.length === 0 ? '' : ` · ${parts.join(' · ')}`);
}

function renderOverrides(view, list) {
  const rows = list.map((o) =>
    h('tr', {}, h('td', { text: o.key }), h('td', { text: o.version }), h('td', { text: o.reason }), h('td', { text: o.author }), h('td', { 'data-field': 'expires-in', text: durationText(o.expiresInMs) })),
  );
  if (rows.length === 0) rows.push(h('tr', {}, h('td', { colspan: '5', class: 'muted', text: 'no overrides' })));
  view.overrides.replaceChildren(...rows);
}

// ---- charts ------------------------------------------------------------------------

const METRICS = [
  { key: 'rate', title: 'request rate (req/s)', fmt: (v) => v.toFixed(2) },
  { key: 'errorRatio', title: 'error rate (%)', fmt: (v) => v.toFixed(2), scale: 100 },
  { key: 'p99Ms', title: 'p99 latency (ms)', fmt: (v) => v.toFixed(1) },
];

/**
 * A uPlot points filter: the indices of values with no value on either side.
 * Lines need two neighbours, so such a value (a version with traffic in one
 * point only) would draw nothing; it gets a dot instead. When uPlot already
 * draws every point (few of them on the chart), it adds nothing.
 */
function isolatedPoints(u, seriesIdx, show) {
  if (show) return null;
  const ys = u.data[seriesIdx];
  const idxs = [];
  for (let i = 0; i < ys.length; i++) if (ys[i] != null && ys[i - 1] == null && ys[i + 1] == null) idxs.push(i);
  return idxs.length === 0 ? null : idxs;
}

function renderCharts(view, series) {
  const versions = Object.keys(series.versions);
  const signature = versions.join(',');
  for (const metric of METRICS) {
    let chart = view.chartState.get(metric.key);
    if (chart && chart.signature !== signature) {
      chart.plot.destroy();
      chart.box.remove();
      chart = undefined;
    }
    const data = [
      series.times,
      ...versions.map((v) => series.versions[v][metric.key].map((x) => (x === null ? null : metric.scale ? x * metric.scale : x))),
    ];
    if (!chart) {
      const box = h('div', { class: 'chart', 'data-chart': metric.key }, h('h4', { text: metric.title }));
      const note = h('div', { class: 'empty' });
      box.append(note);
      view.charts.append(box);
      const width = Math.max(300, Math.min(480, view.charts.clientWidth / 3 - 16));
      const plot = new uPlot(
        {
          width,
          height: 170,
          scales: { x: { time: true }, y: { range: (_u, min, max) => [0, Math.max(max ?? 0, min ?? 0, 1) * 1.1] } },
          axes: [{}, { values: (_u, ticks) => ticks.map((t) => metric.fmt(t)), size: 50 }],
          series: [
            {},
            ...versions.map((v, i) => {
              const color = COLORS[i % COLORS.length];
              return { label: v, stroke: color, width: 2, spanGaps: false, points: { filter: isolatedPoints, fill: color }, value: (_u, x) => (x === null ? '–' : metric.fmt(x)) };
            }),
          ],
          legend: { show: true },
        },
        data,
        box,
      );
      chart = { plot, box, note, signature };
      view.chartState.set(metric.key, chart);
    } else {
      chart.plot.setData(data);
    }
    const hasData = versions.some((v) => series.versions[v].requests.some((n) => n > 0));
    chart.note.textContent = hasData ? '' : `no traffic in the last ${SERIES_MINUTES} minutes`;
  }
}

// ---- audit -----------------------------------------------------------------------------

function describeChange(entry) {
  const before = entry.before;
  const after = entry.after;
  if (after && 'weight' in after) {
    const parts = [];
    if (!before || before.phase !== after.phase) parts.push(`phase ${before?.phase ?? '–'} → ${after.phase}`);
    if (!before || before.weight !== after.weight) parts.push(before ? `weight ${before.weight}% → ${after.weight}%` : `weight ${after.weight}%`);
    if (!before || before.stable !== after.stable) parts.push(`stable ${after.stable}`);
    if (after.candidate && (!before || before.candidate !== after.candidate)) parts.push(`candidate ${after.candidate}`);
    const [was, now] = [before?.shadow ?? null, after.shadow ?? null];
    if (now && (!was || was.version !== now.version || was.percent !== now.percent)) parts.push(`shadow ${now.version} on ${now.percent}%`);
    else if (was && !now) parts.push(`shadow ${was.version} stopped`);
    return parts.join(', ');
  }
  const o = after ?? before;
  if (o && 'key' in o) return `key ${o.key} → ${o.version}`;
  return '';
}

function renderAudit(entries) {
  const items = entries.map((e) =>
    h(
      'li',
      { 'data-audit': e.action, 'data-service': e.service },
      h('time', { datetime: e.at, text: new Date(e.at).toLocaleString() }),
      h('span', { text: `${e.service} · ${e.actor}` }),
      h('span', { class: 'action', text: e.action }),
      h(
        'span',
        {},
        h('span', { class: 'reason', text: e.reason ?? '' }),
        h('span', { class: 'change', text: e.reason ? ` — ${describeChange(e)}` : describeChange(e) }),
        e.rule ? h('span', { class: 'rule', 'data-field': 'rule', text: `rule: ${e.rule}` }) : null,
      ),
    ),
  );
  if (items.length === 0) items.push(h('li', { class: 'muted', text: 'no entries yet' }));
  $('audit').replaceChildren(...items);
}

// ---- polling ---------------------------------------------------------------------------

let timer = 0;
let refreshing = null;

async function refreshOnce() {
  const list = await api('GET', '/services');
  const root = $('services');
  for (const state of list.services) {
    let view = services.get(state.service);
    if (!view) {
      view = createCard(state.service);
      services.set(state.service, view);
      root.append(view.card);
    }
    view.state = state;
    renderState(view, state);
  }
  const audit = api('GET', `/audit?limit=${AUDIT_LIMIT}`);
  await Promise.all(
    list.services.map(async ({ service }) => {
      const view = services.get(service);
      const path = `/services/${encodeURIComponent(service)}`;
      const [overrides, series] = await Promise.all([api('GET', `${path}/overrides`), api('GET', `${path}/series?minutes=${SERIES_MINUTES}`)]);
      renderOverrides(view, overrides.overrides);
      renderCharts(view, series);
    }),
  );
  renderAudit((await audit).entries);
  $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
}

async function refresh() {
  if (!token.get()) return;
  // One refresh at a time: a command's refresh joins a poll already in flight, then runs again.
  if (refreshing) await refreshing.catch(() => {});
  refreshing = refreshOnce();
  try {
    await refreshing;
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) showStatus(`refresh failed: ${err.message}`);
  } finally {
    refreshing = null;
  }
}

function startPolling() {
  clearInterval(timer);
  timer = setInterval(() => void refresh(), POLL_MS);
  void refresh();
}

function signIn() {
  $('login').hidden = true;
  $('app').hidden = false;
  $('sign-out').hidden = false;
  startPolling();
}

function signOut(message) {
  token.clear();
  clearInterval(timer);
  for (const view of services.values()) for (const chart of view.chartState.values()) chart.plot.destroy();
  services.clear();
  $('services').replaceChildren();
  $('audit').replaceChildren();
  $('app').hidden = true;
  $('sign-out').hidden = true;
  $('login').hidden = false;
  $('updated').textContent = '';
  if (message) showStatus(message);
  $('token').focus();
}

$('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ ($('token'));
  const value = input.value.trim();
  if (value === '') return;
  token.set(value);
  input.value = '';
  $('status').hidden = true;
  signIn();
});
$('sign-out').addEventListener('click', () => signOut());

/** The footer names the release that serves this page, as /healthz (no token) reports it. */
async function showVersion() {
  try {
    const res = await fetch('/healthz', { cache: 'no-store' });
    const body = res.ok ? await res.json() : null;
    if (typeof body?.version === 'string') $('version').textContent = body.version;
  } catch {
    // A gateway that does not answer leaves the dash: the footer never shows a version nobody reported.
  }
}

void showVersion();

if (token.get()) signIn();
else signOut();

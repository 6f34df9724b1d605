/**
 * The status page at `/`: server-rendered HTML, no scripts, no build step. Everything interpolated is
 * escaped (names and error reasons come from the wire); the server also sends a CSP that forbids
 * scripts, so a hostile SNI can at worst look odd.
 */
import type { ResolutionView, RouteView } from './routes-view.js';
import type { StatusView } from './status.js';

export function escapeHtml(value: unknown): string {
  return String(value)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** Control characters (from the wire) shown as \xNN, then HTML-escaped. */
function text(value: unknown): string {
  return escapeHtml(
    String(value).replace(
      // eslint-disable-next-line no-control-regex -- that is the point
      /[\u0000-\u001f\u007f-\u009f]/g,
      (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
    ),
  );
}

function time(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

function duration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s % 60}s` : `${s}s`;
}

function table(id: string, head: readonly string[], rows: readonly string[][], empty: string): string {
  if (rows.length === 0) return `<p class="empty" id="${id}-empty">${text(empty)}</p>`;
  const th = head.map((h) => `<th>${text(h)}</th>`).join('');
  const body = rows.map((cells) => `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n');
  return `<table id="${id}"><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function resolution(r: ResolutionView): string {
  const state = r.negative ? 'negative' : r.stale ? 'stale' : `${r.ttlLeftSeconds}s left`;
  const worker = r.worker === undefined ? '' : ` <span class="dim">w${r.worker}</span>`;
  const addresses = r.addresses.length === 0 ? '—' : r.addresses.map(text).join(', ');
  return `<div>${text(r.name)} → ${addresses} <span class="dim">(${text(state)})</span>${worker}</div>`;
}

function routeRow(route: RouteView): string[] {
  return [
    `<code>${text(route.pattern)}</code>`,
    `<code>${text(route.target)}</code>`,
    route.port === null ? '<span class="dim">listener</span>' : text(route.port),
    route.resolutions.length === 0
      ? `<span class="dim">${route.literal === null ? 'nothing cached' : 'literal'}</span>`
      : route.resolutions.map(resolution).join(''),
  ];
}

export function renderStatusPage(view: StatusView): string {
  const ready = view.readiness.ready;
  const badge = view.readiness.draining
    ? '<span class="badge warn" id="state">draining</span>'
    : ready
      ? '<span class="badge ok" id="state">ready</span>'
      : '<span class="badge bad" id="state">not ready</span>';
  const failing = view.readiness.failing.map((f) => `${text(f.check)}: ${text(f.reason)}`).join('; ');
  const listeners = table(
    'listeners',
    ['name', 'protocol', 'address', 'bound', 'open connections'],
    view.listeners.map((l) => [
      text(l.name) + (l.configured ? '' : ' <span class="dim">(removed, draining)</span>'),
      text(l.protocol),
      `<code>${text(l.address)}</code>`,
      l.bound === null ? '<span class="dim">closed</span>' : `<code>${text(l.bound)}</code>`,
      `<span class="num">${text(l.connections)}</span>`,
    ]),
    'No listeners.',
  );
  const workers =
    view.mode === 'cluster'
      ? `<h2>Workers</h2>\n${table(
          'workers',
          ['id', 'pid', 'state', 'since', 'restarts'],
          view.workers.map((w) => [text(w.id), text(w.pid), text(w.state), time(w.since), text(w.restarts)]),
          'No workers running.',
        )}`
      : '';
  const routes = table(
    'routes',
    ['host', 'target', 'port', 'cached resolutions'],
    view.routes.map(routeRow),
    'No routes.',
  );
  const other =
    view.otherResolutions.length === 0
      ? ''
      : `<h3>Other cached names</h3>\n<div id="other">${view.otherResolutions.map(resolution).join('')}</div>`;
  const errors = table(
    'errors',
    ['time', 'listener', 'outcome', 'code', 'name', 'reason'],
    view.recentErrors.map((e) => [
      time(e.at) + (e.worker === undefined ? '' : ` <span class="dim">w${e.worker}</span>`),
      text(e.listener),
      text(e.outcome),
      e.code === null ? '' : `<code>${text(e.code)}</code>`,
      e.sni === null ? '' : text(e.sni),
      e.reason === null ? '' : text(e.reason),
    ]),
    'No failed connections since start.',
  );
  const reload =
    view.lastReload === null
      ? '<p class="dim" id="reload">No reload since start.</p>'
      : `<p id="reload">${time(view.lastReload.at)} (${text(view.lastReload.trigger)}): ${
          view.lastReload.ok ? 'applied' : 'rejected'
        } — ${text(view.lastReload.summary)}</p>${
          view.lastReload.problems.length === 0
            ? ''
            : `<ul>${view.lastReload.problems
                .map(
                  (p) =>
                    `<li><code>${text(p.path === '' ? '(file)' : p.path)}</code>: ${text(p.message)}</li>`,
                )
                .join('')}</ul>`
        }`;
  const certs =
    view.certificates.length === 0
      ? ''
      : `<h2>Certificates</h2>\n${table(
          'certificates',
          ['names', 'expires', 'source', 'note'],
          view.certificates.map((c) => [
            text(c.names.join(', ')),
            text(c.notAfter),
            text(c.source),
            text(
              [c.default ? 'default' : '', c.generated ? 'self-signed stand-in' : '', c.problem ?? '']
                .filter((note) => note !== '')
                .join('; '),
            ),
          ]),
          '',
        )}`;
  const uptime = duration((view.generatedAt - view.startedAt) / 1000);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="10">
<title>edge46 status</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.1em;margin:1.4em 0 .4em}h3{font-size:1em}
table{border-collapse:collapse;background:#fff;min-width:40em}
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f0f0f0}code{font-size:.95em}.dim{color:#777}.num{font-variant-numeric:tabular-nums}
.badge{padding:.1em .5em;border-radius:.3em;color:#fff}.ok{background:#2a7}.warn{background:#d80}.bad{background:#c33}
nav a{margin-right:1em}
</style>
</head>
<body>
<h1>edge46 ${text(view.version)} ${badge}</h1>
<p>${text(view.mode === 'cluster' ? `cluster of ${view.workers.length} worker(s)` : 'single process')}, pid ${text(view.pid)}, up ${text(uptime)}, <span id="connections">${text(view.connections)}</span> open connection(s).${failing === '' ? '' : ` <span class="dim">Not ready: ${failing}</span>`}</p>
<nav><a href="/metrics">/metrics</a><a href="/routes">/routes</a><a href="/readyz">/readyz</a><a href="/status">/status</a></nav>
<h2>Listeners</h2>
${listeners}
${workers}
<h2>Routes</h2>
${routes}
${other}
<h2>Last errors</h2>
${errors}
<h2>Configuration</h2>
${reload}
${certs}
<p class="dim">Generated ${time(view.generatedAt)}.</p>
</body>
</html>
`;
}

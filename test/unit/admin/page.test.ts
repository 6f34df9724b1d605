import t from 'tap';
import { escapeHtml, renderStatusPage } from '../../../src/admin/page.js';
import { mergeStatus, type ProcessStatus } from '../../../src/admin/status.js';

const part = (worker: number | null, extra: Partial<ProcessStatus> = {}): ProcessStatus => ({
  pid: 100 + (worker ?? 0),
  worker,
  listeners: [
    {
      name: 'tls',
      protocol: 'tls',
      address: '0.0.0.0:443',
      bound: '0.0.0.0:443',
      connections: 2,
      configured: true,
    },
  ],
  routes: [{ pattern: '*', target: '{host}', port: null, kind: 'catch-all', literal: null, resolutions: [] }],
  otherResolutions: [],
  recentErrors: [],
  connections: 2,
  certificates: [],
  ...extra,
});
const ctx = {
  version: '9.9.9',
  mode: 'cluster' as const,
  startedAt: 0,
  readiness: { ready: true, draining: false, failing: [] },
  workers: [],
  lastReload: null,
};

t.test('escapeHtml', (t) => {
  t.equal(
    escapeHtml(`<a href="x" onclick='y'>&</a>`),
    '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
  );
  t.end();
});

t.test('mergeStatus sums connections, tags per-worker data, merges errors newest first', (t) => {
  const e = (at: number) => ({
    at,
    listener: 'tls',
    outcome: 'reset' as const,
    code: null,
    reason: null,
    sni: null,
    route: null,
  });
  const merged = mergeStatus(
    [
      part(1, {
        routes: [
          {
            pattern: '*',
            target: '{host}',
            port: null,
            kind: 'catch-all',
            literal: null,
            resolutions: [
              {
                name: 'a.example',
                addresses: ['2001:db8::1'],
                ttlLeftSeconds: 5,
                stale: false,
                negative: false,
              },
            ],
          },
        ],
        recentErrors: [e(5), e(1)],
      }),
      part(2, { recentErrors: [e(3)] }),
    ],
    ctx,
  );
  t.equal(merged.connections, 4);
  t.same(
    merged.listeners.map((l) => l.connections),
    [4],
  );
  t.same(
    merged.recentErrors.map((x) => [x.at, x.worker]),
    [
      [5, 1],
      [3, 2],
      [1, 1],
    ],
  );
  t.same(
    merged.routes[0]?.resolutions.map((r) => r.worker),
    [1],
  );
  t.end();
});

t.test('everything from the wire is escaped, control characters shown', (t) => {
  const html = renderStatusPage(
    mergeStatus(
      [
        part(null, {
          recentErrors: [
            {
              at: 0,
              listener: 'tls',
              outcome: 'bad_hello',
              code: 'EDGE_BAD_NAME',
              reason: 'bad name "<img src=x onerror=alert(1)>"\u0007',
              sni: '<b>',
              route: null,
            },
          ],
        }),
      ],
      {
        ...ctx,
        mode: 'single',
        readiness: { ready: false, draining: false, failing: [{ check: 'watch', reason: '<not synced>' }] },
      },
    ),
  );
  t.notMatch(html, /<img|<b>/);
  t.match(html, /&lt;img src=x onerror=alert\(1\)&gt;&quot;\\x07/);
  t.match(html, /id="state">not ready</);
  t.match(html, /watch: &lt;not synced&gt;/);
  t.end();
});

t.test('certificates: names, expiry, source and notes are shown escaped', (t) => {
  const view = mergeStatus(
    [
      part(null, {
        certificates: [
          {
            source: 'self-signed for <shop.example>',
            names: ['shop.example', '*.shop.example'],
            notBefore: '2026-01-01T00:00:00.000Z',
            notAfter: '2027-01-01T00:00:00.000Z',
            fingerprint: 'AA:BB',
            generated: true,
            default: false,
            problem: null,
          },
        ],
      }),
    ],
    ctx,
  );
  t.equal(view.certificates.length, 1);
  const html = renderStatusPage(view);
  t.match(html, /<h2>Certificates<\/h2>/);
  t.match(html, /shop\.example, \*\.shop\.example/);
  t.match(html, /self-signed for &lt;shop\.example&gt;/);
  t.match(html, /self-signed stand-in/);
  t.match(html, /2027-01-01T00:00:00\.000Z/);
  t.end();
});

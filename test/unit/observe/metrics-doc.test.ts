import { readFileSync } from 'node:fs';
import t from 'tap';
import { renderMetricsDoc } from '../../../src/observe/metrics-doc.js';

t.test('docs/metrics.md matches the metrics module', (t) => {
  t.equal(
    readFileSync(new URL('../../../docs/metrics.md', import.meta.url), 'utf8'),
    renderMetricsDoc(),
    'run `npm run docs`',
  );
  t.end();
});

t.test('every metric the issue asks for is there, with its labels', (t) => {
  const doc = renderMetricsDoc();
  for (const row of [
    '`edge46_connections_total` | counter | `listener`, `outcome`',
    '`edge46_connections_active` | gauge | `listener`',
    '`edge46_bytes_total` | counter | `listener`, `direction`',
    '`edge46_http_requests_total` | counter | `listener`, `code`',
    '`edge46_http_request_duration_seconds` | histogram | `listener`',
    '`edge46_sniff_duration_seconds` | histogram | `listener`',
    '`edge46_upstream_connect_duration_seconds` | histogram | `listener`',
    '`edge46_dns_lookups_total` | counter | `result`',
    '`edge46_dns_cache_entries` | gauge |  |',
    '`edge46_config_reloads_total` | counter | `result`',
  ]) {
    t.ok(doc.includes(row), row);
  }
  t.end();
});

import t from 'tap';
import type { RouteConfig } from '../../../src/config/schema.js';
import { Termination, upstreamDefaultPort } from '../../../src/tls/termination.js';
import { upstreamTlsFor, upstreamTlsKey } from '../../../src/tls/upstream-tls.js';

const terminate = (extra: Partial<RouteConfig> = {}): RouteConfig => ({
  host: 'x',
  target: '{host}',
  tls: 'terminate',
  ...extra,
});

t.test('admit: the connection name, or a covered terminate route; else 421', async (t) => {
  const term = new Termination('a.example.com', ['a.example.com', '*.apps.example.com']);
  t.equal(term.proto, 'https');
  t.doesNotThrow(() => term.admit('a.example.com', terminate()));
  t.doesNotThrow(() => term.admit('web.apps.example.com', terminate()), 'covered by the wildcard SAN');
  const misdirected = (name: string, route: RouteConfig | undefined): void => {
    t.throws(() => term.admit(name, route), { name: 'ProxyError', code: 'EDGE_MISDIRECTED_REQUEST' }, name);
  };
  misdirected('b.example.com', terminate());
  misdirected('x.y.apps.example.com', terminate());
  misdirected('web.apps.example.com', { host: 'x', target: '{host}' });
  misdirected('a.example.com', undefined);
  // The name the connection was routed by is served even when the certificate (a default) does not name it.
  const byDefault = new Termination('odd.example.org', ['default.example.net']);
  t.doesNotThrow(() => byDefault.admit('odd.example.org', terminate()));
});

t.test('upstream default ports and TLS settings', async (t) => {
  t.equal(upstreamDefaultPort(terminate({ upstream: 'https' }), true), 443);
  t.equal(upstreamDefaultPort(terminate({ upstream: 'https' }), false), 443);
  t.equal(upstreamDefaultPort(terminate(), true), 80);
  t.equal(upstreamDefaultPort(terminate(), false), undefined, 'http listeners keep their own rule');
  t.equal(upstreamTlsFor(terminate(), 'b.example'), undefined);
  t.same(upstreamTlsFor(terminate({ upstream: 'https', upstreamCa: '/ca.pem' }), 'b.example'), {
    servername: 'b.example',
    caFile: '/ca.pem',
    insecure: false,
  });
  t.same(upstreamTlsFor(terminate({ upstream: 'https', upstreamInsecure: true }), null), {
    servername: null,
    caFile: undefined,
    insecure: true,
  });
  t.equal(upstreamTlsKey(undefined), 'http');
  t.equal(upstreamTlsKey({ servername: 'x', caFile: undefined, insecure: false }), 'https:system');
  t.equal(upstreamTlsKey({ servername: 'x', caFile: '/ca.pem', insecure: false }), 'https:/ca.pem');
  t.equal(upstreamTlsKey({ servername: 'x', caFile: undefined, insecure: true }), 'https-insecure');
});

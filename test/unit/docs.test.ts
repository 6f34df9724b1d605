import { readFileSync } from 'node:fs';
import t from 'tap';
import { renderConfigDoc, renderErrorDoc } from '../../scripts/gen-docs.js';

// The reference docs are generated from the schema and the error table; this fails when they drift.
t.test('docs/config.md matches the schema', async (t) => {
  t.equal(
    readFileSync(new URL('../../docs/config.md', import.meta.url), 'utf8'),
    renderConfigDoc(),
    'run `npm run docs`',
  );
});

t.test('docs/errors.md matches the error table', async (t) => {
  t.equal(
    readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8'),
    renderErrorDoc(),
    'run `npm run docs`',
  );
});

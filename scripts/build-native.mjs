#!/usr/bin/env node
// Builds the optional native addon (native/ → native/build/Release/edge46.node): the splice pipe engine
// and IP_FREEBIND sockets. Runs as the root package's `install` script. It must never fail an install:
// on any problem it prints one line and exits 0, and src/pipe/native.ts falls back to the JS engine.
//
// node-gyp first (npm's bundled copy, else a local one), pointed at the headers of the running Node when
// they are installed next to it, so nothing is downloaded; then a direct `cc` build as a fallback (the
// addon is two C files with no dependencies).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
const output = join(nativeDir, 'build', 'Release', 'edge46.node');
const sources = ['src/addon.c', 'src/pump.c'].map((f) => join(nativeDir, f));
const TIMEOUT_MS = 180_000;

function done(message) {
  console.log(`edge46 native addon: ${message}`);
  process.exit(0);
}

function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  if (process.env.npm_execpath) {
    candidates.push(
      join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    );
  }
  candidates.push(
    join(
      dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    ),
  );
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed locally
  }
  return candidates.find((c) => c.endsWith('.js') && existsSync(c));
}

/** The headers of the running Node, when installed beside it (Debian's nodejs, official tarballs). */
function localNodeDir() {
  const prefix = join(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: nativeDir, encoding: 'utf8', timeout: TIMEOUT_MS });
  if (r.error) return { ok: false, why: r.error.message };
  if (r.status !== 0) {
    const lines = `${r.stderr}\n${r.stdout}`
      .split('\n')
      .filter((l) => /error|ERR!/i.test(l) && !/^gyp info/.test(l));
    return { ok: false, why: lines[0]?.trim() || `exit ${r.status ?? r.signal}` };
  }
  return { ok: true };
}

function buildWithNodeGyp(nodedir) {
  const gyp = findNodeGyp();
  if (!gyp) return { ok: false, why: 'node-gyp not found' };
  const args = [gyp, 'rebuild'];
  if (nodedir) args.push(`--nodedir=${nodedir}`);
  return run(process.execPath, args);
}

function buildWithCc(nodedir) {
  if (!nodedir) return { ok: false, why: 'no local Node headers' };
  mkdirSync(dirname(output), { recursive: true });
  const cc = process.env.CC || 'cc';
  const flags = ['-std=gnu11', '-O2', '-fPIC', '-shared', '-DNAPI_VERSION=8', '-Wall'];
  return run(cc, [...flags, `-I${join(nodedir, 'include', 'node')}`, ...sources, '-o', output, '-lpthread']);
}

function main() {
  if (process.env.EDGE46_SKIP_NATIVE) done('skipped (EDGE46_SKIP_NATIVE is set); the JS engine will be used');
  if (process.platform !== 'linux')
    done(`not built on ${process.platform} (Linux only); the JS engine will be used`);
  const nodedir = localNodeDir();
  const gyp = buildWithNodeGyp(nodedir);
  if (gyp.ok && existsSync(output)) done(`built with node-gyp (${output})`);
  const cc = buildWithCc(nodedir);
  if (cc.ok && existsSync(output)) done(`built with cc (${output}; node-gyp: ${gyp.why ?? 'no output'})`);
  done(`not built (node-gyp: ${gyp.why ?? 'no output'}; cc: ${cc.why}); the JS engine will be used`);
}

try {
  main();
} catch (err) {
  done(`not built (${err instanceof Error ? err.message : String(err)}); the JS engine will be used`);
}

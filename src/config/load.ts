/**
 * Load → validate (all errors, each with its path) → freeze. An invalid file never yields a Config, so
 * a half-configured proxy can never start (STYLE.md §5).
 */
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.js';
import { crossFieldProblems } from './validate.js';

export interface ConfigProblem {
  /** e.g. "routes[2].target" ("" for the whole file). */
  readonly path: string;
  readonly message: string;
}

export type ConfigResult =
  | { readonly ok: true; readonly config: Config }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

/** Formats a zod/array path the way users see it in their file: `listeners[0].address`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out.length === 0 ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** Parses YAML (a superset of JSON) text and validates it. */
export function parseConfigText(text: string): ConfigResult {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => ({ path: '', message: e.message.split('\n')[0] ?? e.message })),
    };
  }
  return validateConfig(doc.toJS({ maxAliasCount: 100 }) as unknown);
}

export function validateConfig(input: unknown): ConfigResult {
  const parsed = configSchema.safeParse(input ?? {});
  if (!parsed.success) return { ok: false, problems: parsed.error.issues.flatMap(issueToProblems) };
  const problems = crossFieldProblems(parsed.data);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, config: deepFreeze(parsed.data) };
}

export async function loadConfigFile(file: string): Promise<ConfigResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return { ok: false, problems: [{ path: '', message: `cannot read ${file}: ${code}` }] };
  }
  return parseConfigText(text);
}

export function formatProblems(problems: readonly ConfigProblem[]): string {
  return problems.map((p) => (p.path === '' ? p.message : `${p.path}: ${p.message}`)).join('\n');
}

function issueToProblems(issue: z.core.$ZodIssue): ConfigProblem[] {
  const path = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      path: path === '' ? key : `${path}.${key}`,
      message: `unknown key${hintFor(key, issue.path)}`,
    }));
  }
  return [{ path, message: issue.message }];
}

/** "did you mean …" for a misspelt key: the closest known key at the same place in the schema. */
function hintFor(key: string, path: readonly PropertyKey[]): string {
  const known = knownKeysAt(path);
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best === undefined ? '' : ` (did you mean "${best}"?)`;
}

function knownKeysAt(path: readonly PropertyKey[]): string[] {
  const json = configJsonSchema();
  let node: JsonSchemaNode | undefined = json;
  for (const part of path) {
    if (node === undefined) return [];
    node = typeof part === 'number' ? node.items : node.properties?.[String(part)];
  }
  return Object.keys(node?.properties ?? {});
}

interface JsonSchemaNode {
  properties?: Record<string, JsonSchemaNode>;
  items?: JsonSchemaNode;
}

let cachedJsonSchema: JsonSchemaNode | undefined;
function configJsonSchema(): JsonSchemaNode {
  cachedJsonSchema ??= configSchema.toJSONSchema({ io: 'input' }) as JsonSchemaNode;
  return cachedJsonSchema;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] ?? 0;
      row[j] = Math.min((row[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length] ?? 0;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

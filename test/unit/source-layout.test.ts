/**
 * The layout of src/ (docs/architecture.md "Dependency rule"): dependencies
 * between the folders of src/ point one way (no two folders import each
 * other), only src/sys/ touches the FFI (koffi), and the error catalogue
 * depends on nothing. Cheap: it reads the import statements only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const SRC = new URL('../../src/', import.meta.url).pathname;

interface Import {
  /** The importing file, relative to src/. */
  from: string;
  /** The module specifier as written. */
  specifier: string;
}

/** Every static `import … from`, `export … from`, side-effect `import '…'` and dynamic `import('…')` in src/. */
function importsInSrc(): Import[] {
  const found: Import[] = [];
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(ts|mts)$/.test(f) && !f.endsWith('.d.ts'));
  for (const file of files) {
    const text = readFileSync(join(SRC, file), 'utf8');
    const patterns = [
      /\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
      /\bimport\s*['"]([^'"]+)['"]/g,
      /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
    ];
    for (const pattern of patterns) for (const m of text.matchAll(pattern)) found.push({ from: file, specifier: m[1] as string });
  }
  return found;
}

/** The top folder of src/ a path (relative to src/) lies in; '' for files directly in src/. */
function folderOf(pathInSrc: string): string {
  const parts = pathInSrc.split('/');
  return parts.length > 1 ? (parts[0] as string) : '';
}

/** Folder → the other folders of src/ it imports, with one example file each. */
function folderGraph(imports: readonly Import[]): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const { from, specifier } of imports) {
    if (!specifier.startsWith('.')) continue;
    const target = relative(SRC, resolve(dirname(join(SRC, from)), specifier));
    const a = folderOf(from);
    const b = folderOf(target);
    if (a === '' || b === '' || a === b || target.startsWith('..')) continue;
    if (!graph.has(a)) graph.set(a, new Map());
    graph.get(a)?.set(b, from);
  }
  return graph;
}

test('the import scan sees the layout (sanity)', () => {
  const imports = importsInSrc();
  assert.ok(imports.length > 200, `${imports.length} imports`);
  const graph = folderGraph(imports);
  assert.ok(graph.get('exporter')?.has('collector'), 'exporter imports collector');
  assert.ok(
    imports.some((i) => i.specifier === 'koffi'),
    'koffi is imported somewhere',
  );
});

test('no two folders of src/ import each other', () => {
  const graph = folderGraph(importsInSrc());
  const cycles: string[] = [];
  for (const [a, targets] of graph) {
    for (const [b, fileInA] of targets) {
      const fileInB = graph.get(b)?.get(a);
      if (fileInB !== undefined && a < b) cycles.push(`${a} <-> ${b} (${fileInA} imports ${b}/, ${fileInB} imports ${a}/)`);
    }
  }
  assert.deepEqual(cycles, [], 'folders that import each other');
});

test('dependencies point one way: no cycle of folders of any length', () => {
  const graph = folderGraph(importsInSrc());
  const done = new Set<string>();
  const onPath: string[] = [];
  const cycleFrom = (folder: string): string[] | undefined => {
    const at = onPath.indexOf(folder);
    if (at >= 0) return [...onPath.slice(at), folder];
    if (done.has(folder)) return undefined;
    onPath.push(folder);
    for (const next of graph.get(folder)?.keys() ?? []) {
      const cycle = cycleFrom(next);
      if (cycle) return cycle;
    }
    onPath.pop();
    done.add(folder);
    return undefined;
  };
  for (const folder of graph.keys()) {
    const cycle = cycleFrom(folder);
    assert.equal(cycle, undefined, `import cycle: ${cycle?.join(' -> ')}`);
  }
});

test('only src/sys/ imports koffi (the one FFI layer)', () => {
  const outside = importsInSrc()
    .filter((i) => i.specifier === 'koffi' && folderOf(i.from) !== 'sys')
    .map((i) => i.from);
  assert.deepEqual(outside, [], 'files outside src/sys that import koffi');
});

test('the error catalogue (src/errors/) imports no other folder of src/', () => {
  const targets = [...(folderGraph(importsInSrc()).get('errors')?.keys() ?? [])];
  assert.deepEqual(targets, []);
});

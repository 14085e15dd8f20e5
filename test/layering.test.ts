// The layering of lib/ (README "Layout"), read from the imports of every file: forbidden folder pairs, no folder
// cycles, only the top layers import the paper sections, and files are imported, never folders (tslab cannot
// resolve a folder's index.ts). Type-only imports count too: they tie a folder to the concepts of another.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const ROOT = path.resolve(__dirname, '..');
const LIB = path.join(ROOT, 'lib');

/** from → folders it must not import (the README's layering rules). */
const FORBIDDEN: Record<string, string[]> = {
  util: ['data', 'text', 'model', 'eval', 'train', 'baselines', 'behaviors', 'experiment', 'report'],
  data: ['model', 'train', 'eval', 'experiment', 'report'],
  model: ['train', 'eval', 'baselines', 'experiment', 'report'],
  eval: ['train', 'baselines', 'experiment', 'report'],
  train: ['baselines', 'experiment', 'report'],
  report: ['model', 'train', 'baselines', 'experiment'],
};
/** Folders nothing else imports (the top of the stack); `paper` may be imported by `cli` only. */
const TOP: Record<string, string[]> = { cli: [], paper: ['cli'] };

export interface ImportEdge {
  file: string;
  spec: string;
  target: string;
}

function libFiles(dir = LIB): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? libFiles(path.join(dir, e.name)) : /\.(ts|js)$/.test(e.name) ? [path.join(dir, e.name)] : [],
  );
}

/** Relative import specifiers of a source text: import/export … from, side-effect imports, require(), import(). */
export function importSpecifiers(src: string): string[] {
  const out: string[] = [];
  // comments hold usage examples, not imports
  src = src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const re = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"](\.{1,2}\/[^'"]*)['"]/g;
  for (const m of src.matchAll(re)) out.push(m[1]);
  return out;
}

function resolveImport(file: string, spec: string): { target?: string; folder: boolean } {
  const base = path.resolve(path.dirname(file), spec);
  if (existsSync(base) && statSync(base).isDirectory()) return { folder: true };
  for (const cand of [base, `${base}.ts`, `${base}.js`]) if (existsSync(cand) && statSync(cand).isFile()) return { target: cand, folder: false };
  return { folder: false };
}

const folderOf = (file: string) => path.relative(LIB, file).split(path.sep)[0];

/** Folder-level problems of a folder graph: forbidden pairs, top-layer imports, cycles. */
export function layeringProblems(edges: { from: string; to: string; where: string }[]): string[] {
  const problems: string[] = [];
  for (const e of edges) {
    if (e.from === e.to) continue;
    if (FORBIDDEN[e.from]?.includes(e.to)) problems.push(`${e.from} ↛ ${e.to}: ${e.where}`);
    if (TOP[e.to] && !TOP[e.to].includes(e.from)) problems.push(`${e.to} is a top layer; ${e.from} must not import it: ${e.where}`);
  }
  // cycles between folders (Tarjan's strongly connected components)
  const graph = new Map<string, Set<string>>();
  for (const e of edges) {
    if (e.from === e.to) continue;
    if (!graph.has(e.from)) graph.set(e.from, new Set());
    if (!graph.has(e.to)) graph.set(e.to, new Set());
    graph.get(e.from)!.add(e.to);
  }
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) {
        const members = new Set(scc);
        const inside = edges.filter((e) => e.from !== e.to && members.has(e.from) && members.has(e.to)).map((e) => `${e.from} → ${e.to} (${e.where})`);
        problems.push(`folder cycle ${scc.sort().join(' ⇄ ')}: ${inside.join('; ')}`);
      }
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return problems;
}

test('the layering checker finds a forbidden pair, a top-layer import and a cycle', () => {
  assert.deepEqual(layeringProblems([{ from: 'train', to: 'model', where: 'a' }, { from: 'experiment', to: 'train', where: 'b' }]), []);
  assert.match(layeringProblems([{ from: 'model', to: 'train', where: 'lib/model/x.ts' }]).join('\n'), /model ↛ train: lib\/model\/x\.ts/);
  assert.match(layeringProblems([{ from: 'baselines', to: 'paper', where: 'y' }]).join('\n'), /paper is a top layer/);
  const cyc = layeringProblems([{ from: 'behaviors', to: 'baselines', where: 'p' }, { from: 'baselines', to: 'behaviors', where: 'q' }]);
  assert.match(cyc.join('\n'), /folder cycle baselines ⇄ behaviors: .*baselines → behaviors \(q\)/);
  assert.deepEqual(importSpecifiers(`import type { A } from '../x/a';\nexport * from './b';\nconst m = require('../c/d.ts');\nimport './e';\n// import { x } from './not-an-import';`), ['../x/a', './b', '../c/d.ts', './e']);
});

test('lib/ follows its layering: no forbidden folder pair, no folder cycle, paper and cli on top', () => {
  const edges: { from: string; to: string; where: string }[] = [];
  const unresolved: string[] = [];
  for (const f of libFiles()) {
    for (const spec of importSpecifiers(readFileSync(f, 'utf8'))) {
      const r = resolveImport(f, spec);
      if (!r.target) {
        if (!r.folder) unresolved.push(`${path.relative(ROOT, f)}: '${spec}'`);
        continue;
      }
      if (!r.target.startsWith(LIB + path.sep)) continue;
      edges.push({ from: folderOf(f), to: folderOf(r.target), where: `${path.relative(ROOT, f)} imports '${spec}'` });
    }
  }
  assert.deepEqual(unresolved, [], 'imports that resolve to no file');
  const problems = layeringProblems(edges);
  assert.deepEqual(problems, [], `layering violations (README "Layout"):\n${problems.join('\n')}`);
  // the checker saw the real graph: these edges exist today
  for (const [from, to] of [['experiment', 'train'], ['paper', 'experiment'], ['train', 'model'], ['eval', 'data']]) {
    assert.ok(edges.some((e) => e.from === from && e.to === to), `expected an import ${from} → ${to}`);
  }
});

// tslab resolves './x' to x.ts (or x.js) only: an import of a folder (its index.ts) fails inside the kernel.
test('lib/ never imports a folder (tslab cannot resolve index.ts)', () => {
  const bad: string[] = [];
  for (const f of libFiles()) {
    for (const spec of importSpecifiers(readFileSync(f, 'utf8'))) {
      if (resolveImport(f, spec).folder) bad.push(`${path.relative(ROOT, f)}: '${spec}'`);
    }
  }
  assert.deepEqual(bad, [], `import the file instead (e.g. '../report/index'):\n${bad.join('\n')}`);
});

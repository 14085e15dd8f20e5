// The manifest's commit and dirty flag (lib/util/manifest.ts): dirty means the code differs from the commit; results/
// is left out, because a section rewrites its own tracked outputs before it writes its manifest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gitInfo } from '../lib/util/manifest';

test('gitInfo: a changed results/ file keeps the checkout clean, a changed code file makes it dirty', () => {
  const repo = mkdtempSync(path.join(os.tmpdir(), 'r2ec-git-'));
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: repo }).toString().trim();
  try {
    git('init', '-q');
    mkdirSync(path.join(repo, 'results', 'a'), { recursive: true });
    mkdirSync(path.join(repo, 'lib'));
    writeFileSync(path.join(repo, 'results', 'a', 'fig.svg'), '<svg/>');
    writeFileSync(path.join(repo, 'lib', 'x.ts'), 'export {};\n');
    git('add', '-A');
    git('commit', '-qm', 'init');
    const head = git('rev-parse', 'HEAD');
    const results = path.join(repo, 'results', 'a');
    writeFileSync(path.join(results, 'fig.svg'), '<svg id="1"/>'); // a section rewrote its figure
    assert.deepEqual(gitInfo(repo), { commit: head, dirty: false });
    writeFileSync(path.join(repo, 'lib', 'x.ts'), 'export const y = 1;\n');
    const sub = path.join(repo, 'lib');
    assert.deepEqual(gitInfo(sub), { commit: head, dirty: true }, 'read afresh for another folder');
    const plain = mkdtempSync(path.join(os.tmpdir(), 'r2ec-nogit-'));
    assert.deepEqual(gitInfo(plain), { commit: 'unknown', dirty: false }, 'not a checkout');
    rmSync(plain, { recursive: true });
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BEHAVIOR_IDS,
  parseAnnotationCsv,
  readAnnotationCsv,
  ruleTagger,
  toAnnotationCsv,
  writeAnnotationCsv,
  type TagInput,
} from '../lib/behaviors';
import { DataError } from '../lib/util/errors';

const dir = mkdtempSync(join(tmpdir(), 'r2ec-behaviors-'));

const INPUTS: TagInput[] = [
  { id: 'u1', reasoning: 'They recently bought [Strings, Light (10-46)] (5.0), so a capo fits.' },
  { id: 'u2', reasoning: 'She said "great tone", because of the "vintage" sound.\nSecond line, with a comma.\r\nThird line after CRLF.' },
  { id: 'u3', reasoning: '  leading and trailing spaces  ' },
  { id: 'u4', reasoning: '- a bullet; ünïcødé ✓ and ""double quotes""' },
  { id: 'u5', reasoning: '' },
];

test('annotation CSV: round trip keeps texts with commas, quotes, newlines and spaces, and the labels', () => {
  const rules = ruleTagger().tagSync(INPUTS);
  const path = join(dir, 'prefilled.csv');
  writeAnnotationCsv(path, rules, INPUTS);
  const back = readAnnotationCsv(path);
  assert.deepEqual(back.inputs, INPUTS.map((i) => ({ id: i.id, reasoning: i.reasoning })));
  assert.deepEqual(back.unannotated, []);
  assert.deepEqual(back.results.map((r) => r.id), INPUTS.map((i) => i.id));
  assert.deepEqual(back.results.map((r) => r.labels), rules.map((r) => r.labels));
  // the pre-fill is the rules' 0/1: u1 has temporal (recently) and self-explanation (so)
  assert.equal(back.results[0].labels!.temporal, true);
  assert.equal(back.results[0].labels!.self_explanation, true);
  assert.equal(back.results[4].labels!.temporal, false);
});

test('annotation CSV: header, blank sheet, evidence column, file layout', () => {
  const blank = toAnnotationCsv(null, INPUTS.slice(0, 1));
  assert.equal(blank, `id,reasoning,${BEHAVIOR_IDS.join(',')},notes\nu1,"They recently bought [Strings, Light (10-46)] (5.0), so a capo fits.",,,,,,,,\n`);
  const read = parseAnnotationCsv(blank);
  assert.deepEqual(read.unannotated, ['u1']);
  assert.deepEqual(read.results, []);
  const withEv = toAnnotationCsv(ruleTagger().tagSync(INPUTS.slice(0, 1)), INPUTS.slice(0, 1), { evidence: true });
  assert.match(withEv.split('\n')[0], /,notes,rule_evidence$/);
  assert.match(withEv, /temporal: recently/);
  assert.throws(() => toAnnotationCsv([], INPUTS.slice(0, 1)), /no result for input "u1"/);
});

/** What a person does in a spreadsheet: fill cells (here by rewriting the CSV rows after the header). */
function humanSheet(rows: string[]): string {
  return [`id,reasoning,${BEHAVIOR_IDS.join(',')},notes`, ...rows].join('\r\n') + '\r\n';
}

test('annotation CSV: human values (1/0, yes/no, true/false, spaces), BOM, CRLF, unannotated rows listed', () => {
  const path = join(dir, 'human.csv');
  writeFileSync(
    path,
    '\uFEFF' +
      humanSheet([
        'a,"text a",1,0,yes,no,TRUE,false, 1 ,looks right',
        'b,"multi\r\nline, text",,,,,,,,not done',
        'c,text c,0,0,0,0,0,0,0,',
      ]),
  );
  const r = readAnnotationCsv(path);
  assert.deepEqual(r.unannotated, ['b']);
  assert.deepEqual(r.results.map((x) => x.id), ['a', 'c']);
  assert.deepEqual(r.results[0].labels, {
    attribute_abstraction: true,
    pattern_clustering: false,
    role_scenario: true,
    temporal: false,
    self_explanation: true,
    negative_exclusion: false,
    multi_objective: true,
  });
  assert.ok(Object.values(r.results[1].labels!).every((v) => v === false));
  assert.equal(r.inputs[1].reasoning, 'multi\r\nline, text');
});

function dataError(fn: () => unknown): DataError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof DataError, `expected DataError, got ${e}`);
    return e;
  }
  assert.fail('no error thrown');
}

test('annotation CSV: a bad value names the file, the line (after multi-line texts) and the column', () => {
  const path = join(dir, 'bad.csv');
  writeFileSync(path, humanSheet(['a,"one\ntwo\nthree",1,0,0,0,0,0,0,', 'b,"x",1,0,maybe,0,0,0,0,']));
  const e = dataError(() => readAnnotationCsv(path));
  // header line 1, row a on lines 2-4, row b on line 5
  assert.equal(e.line, 5);
  assert.equal(e.field, 'role_scenario');
  assert.equal(e.file, path);
  assert.match(e.message, /bad\.csv:5 \(field "role_scenario"\): "maybe" is not a label/);
});

test('annotation CSV: partly filled rows, duplicate or empty ids, missing columns, broken quoting are DataErrors', () => {
  let e = dataError(() => parseAnnotationCsv(humanSheet(['a,x,1,0,,0,0,0,0,']), 'p.csv'));
  assert.deepEqual([e.line, e.field], [2, 'role_scenario']);
  assert.match(e.message, /partly annotated/);
  e = dataError(() => parseAnnotationCsv(humanSheet(['a,x,1,0,0,0,0,0,0,', 'a,y,1,0,0,0,0,0,0,']), 'p.csv'));
  assert.deepEqual([e.line, e.field], [3, 'id']);
  assert.match(e.message, /duplicate id "a" \(first on line 2\)/);
  e = dataError(() => parseAnnotationCsv(humanSheet([' ,x,1,0,0,0,0,0,0,']), 'p.csv'));
  assert.deepEqual([e.line, e.field], [2, 'id']);
  e = dataError(() => parseAnnotationCsv('id,reasoning,temporal\na,x,1\n', 'p.csv'));
  assert.equal(e.field, 'attribute_abstraction');
  assert.match(e.message, /missing column\(s\) attribute_abstraction, pattern_clustering/);
  e = dataError(() => parseAnnotationCsv(humanSheet(['a,"unclosed,1,0,0,0,0,0,0,']), 'p.csv'));
  assert.match(e.message, /not readable as CSV/);
  e = dataError(() => parseAnnotationCsv(humanSheet(['a,x,1,0,0,0,0,0,0']), 'p.csv'));
  assert.match(e.message, /not readable as CSV/);
  assert.throws(() => readAnnotationCsv(join(dir, 'nope.csv')), /nope\.csv: cannot read/);
});

test('annotation CSV: the written file is what toAnnotationCsv returns', () => {
  const path = join(dir, 'same.csv');
  writeAnnotationCsv(path, null, INPUTS);
  assert.equal(readFileSync(path, 'utf8'), toAnnotationCsv(null, INPUTS));
});

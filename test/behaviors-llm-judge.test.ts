import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  BEHAVIOR_IDS,
  JUDGE_TEXT_END,
  JUDGE_TEXT_START,
  buildJudgeMessages,
  llmJudgeTagger,
  parseJudgeReply,
  type Behavior,
} from '../lib/behaviors';
import { R2ecError } from '../lib/util/errors';

// A stub OpenAI-compatible server on 127.0.0.1 (random port). What it answers depends on a keyword in the text.
const TRUE_FOR_ALPHA: Behavior[] = ['temporal', 'self_explanation'];
const allLabels = (on: Behavior[]) => Object.fromEntries(BEHAVIOR_IDS.map((b) => [b, on.includes(b)]));

let server: http.Server;
let baseUrl = '';
let inFlight = 0;
let maxInFlight = 0;
const calls = new Map<string, number>();
let lastBody: { model?: string; messages?: { role: string; content: string }[]; temperature?: number } = {};
let lastAuth: string | undefined;

function reply(res: http.ServerResponse, content: string) {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content } }] }));
}

before(async () => {
  server = http.createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        res.writeHead(404).end('not found');
        return;
      }
      lastBody = JSON.parse(data);
      lastAuth = req.headers.authorization;
      const user = lastBody.messages!.find((m) => m.role === 'user')!.content;
      const text = user.slice(user.indexOf(JUDGE_TEXT_START) + JUDGE_TEXT_START.length, user.indexOf(JUDGE_TEXT_END)).trim();
      const key = text.split(' ')[0];
      calls.set(key, (calls.get(key) ?? 0) + 1);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const done = () => inFlight--;
      // small delay so that concurrent requests overlap
      setTimeout(() => {
        done();
        if (key === 'ALPHA') reply(res, JSON.stringify(allLabels(TRUE_FOR_ALPHA)));
        else if (key === 'FENCED')
          reply(res, 'Sure! Here is my judgement:\n```json\n' + JSON.stringify(allLabels(['role_scenario'])) + '\n```\nHope this helps {not json}.');
        else if (key === 'MALFORMED') reply(res, 'I think the text shows temporal reasoning and self-explanation.');
        else if (key === 'FLAKY') reply(res, calls.get(key) === 1 ? '{"temporal": true' : JSON.stringify(allLabels(['multi_objective'])));
        else if (key === 'ERROR500') res.writeHead(500, { 'content-type': 'text/plain' }).end('internal boom');
        else if (key === 'ERROR400') res.writeHead(400, { 'content-type': 'text/plain' }).end('bad request: model unknown');
        else if (key === 'SLOW') setTimeout(() => reply(res, JSON.stringify(allLabels([]))), 1500);
        else reply(res, JSON.stringify(allLabels([])));
      }, 20);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

const judge = (extra: Parameters<typeof llmJudgeTagger>[0] = {}) =>
  llmJudgeTagger({ env: {}, baseUrl, model: 'stub-model', quiet: true, ...extra });

test('llm judge: off by default, with an error naming the variables to set', () => {
  assert.throws(() => llmJudgeTagger({ env: {} }), (e: unknown) => {
    assert.ok(e instanceof R2ecError);
    assert.match(e.message, /R2EC_JUDGE_BASE_URL/);
    assert.match(e.message, /R2EC_JUDGE_MODEL/);
    assert.match(e.message, /R2EC_JUDGE_API_KEY/);
    return true;
  });
  assert.throws(() => llmJudgeTagger({ env: { R2EC_JUDGE_BASE_URL: baseUrl } }), /missing: R2EC_JUDGE_MODEL/);
  assert.throws(() => llmJudgeTagger({ env: { R2EC_JUDGE_BASE_URL: 'not a url', R2EC_JUDGE_MODEL: 'm' } }), /not a URL/);
  assert.throws(() => judge({ concurrency: 0 }), /concurrency must be an integer ≥ 1/);
});

test('llm judge: prompt carries the seven definitions and the text; reply parsed into labels', async () => {
  const t = llmJudgeTagger({ env: { R2EC_JUDGE_BASE_URL: baseUrl + '/', R2EC_JUDGE_MODEL: 'stub-model', R2EC_JUDGE_API_KEY: 'k123' }, quiet: true });
  assert.equal(t.url, baseUrl + '/chat/completions');
  const [r] = await t.tag([{ id: 'a', reasoning: 'ALPHA the user recently bought strings, so ...' }]);
  assert.deepEqual(r.labels, allLabels(TRUE_FOR_ALPHA));
  assert.equal(r.error, undefined);
  assert.equal(lastAuth, 'Bearer k123');
  assert.equal(lastBody.model, 'stub-model');
  assert.equal(lastBody.temperature, 0);
  const user = lastBody.messages!.find((m) => m.role === 'user')!.content;
  for (const b of BEHAVIOR_IDS) assert.ok(user.includes(`"${b}"`), `prompt lacks key ${b}`);
  assert.ok(user.includes('ALPHA the user recently bought strings, so ...'));
  assert.deepEqual(buildJudgeMessages('x')[1].content.match(/^- \w+ \(/gm)!.length, 7);
  assert.equal(t.name, 'llm-judge:stub-model');
});

test('llm judge: fenced JSON with text around it is read', async () => {
  const [r] = await judge().tag([{ id: 'f', reasoning: 'FENCED whatever' }]);
  assert.deepEqual(r.labels, allLabels(['role_scenario']));
});

test('llm judge: malformed output is retried once, then counted as a failure with labels null', async () => {
  calls.clear();
  const t = judge();
  const rs = await t.tag([
    { id: 'm', reasoning: 'MALFORMED text' },
    { id: 'ok', reasoning: 'ALPHA text' },
    { id: 'fl', reasoning: 'FLAKY text' },
  ]);
  assert.equal(rs.length, 3);
  assert.deepEqual(rs.map((r) => r.id), ['m', 'ok', 'fl']);
  assert.equal(rs[0].labels, null);
  assert.match(rs[0].error!, /attempt 1: malformed reply.*attempt 2: malformed reply/);
  assert.equal(calls.get('MALFORMED'), 2);
  assert.deepEqual(rs[2].labels, allLabels(['multi_objective'])); // the retry succeeded
  assert.equal(calls.get('FLAKY'), 2);
  const s = t.stats();
  assert.deepEqual(
    { items: s.items, requests: s.requests, retries: s.retries, failures: s.failures, malformed: s.malformed },
    { items: 3, requests: 5, retries: 2, failures: 1, malformed: 3 },
  );
});

test('llm judge: HTTP 500 is retried and reported; HTTP 400 is not retried', async () => {
  calls.clear();
  const t = judge();
  const [r500, r400] = await t.tag([
    { id: 'e5', reasoning: 'ERROR500 x' },
    { id: 'e4', reasoning: 'ERROR400 x' },
  ]);
  assert.equal(r500.labels, null);
  assert.match(r500.error!, /HTTP 500: internal boom/);
  assert.equal(calls.get('ERROR500'), 2);
  assert.equal(r400.labels, null);
  assert.match(r400.error!, /HTTP 400: bad request/);
  assert.equal(calls.get('ERROR400'), 1);
  assert.equal(t.stats().failures, 2);
  assert.equal(t.stats().httpErrors, 3);
});

test('llm judge: timeout per request, counted', async () => {
  const t = judge({ timeoutMs: 200, retries: 0 });
  const [r] = await t.tag([{ id: 's', reasoning: 'SLOW x' }]);
  assert.equal(r.labels, null);
  assert.match(r.error!, /timeout after 200 ms/);
  assert.equal(t.stats().timeouts, 1);
});

test('llm judge: concurrency limit holds and order is kept', async () => {
  maxInFlight = 0;
  const inputs = Array.from({ length: 9 }, (_, k) => ({ id: `i${k}`, reasoning: k % 2 ? 'ALPHA t' : 'PLAIN t' }));
  const rs = await judge({ concurrency: 3 }).tag(inputs);
  assert.equal(maxInFlight, 3);
  assert.deepEqual(rs.map((r) => r.id), inputs.map((i) => i.id));
  assert.deepEqual(rs.map((r) => r.labels!.temporal), inputs.map((_, k) => k % 2 === 1));
  maxInFlight = 0;
  await judge({ concurrency: 1 }).tag(inputs.slice(0, 3));
  assert.equal(maxInFlight, 1);
});

test('llm judge: an unreachable server is a counted network error', async () => {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const t = llmJudgeTagger({ env: {}, baseUrl: `http://127.0.0.1:${port}/v1`, model: 'm', retries: 0, quiet: true });
  const [r] = await t.tag([{ id: 'n', reasoning: 'x' }]);
  assert.equal(r.labels, null);
  assert.match(r.error!, /network error/);
  assert.equal(t.stats().networkErrors, 1);
});

test('parseJudgeReply: bare, surrounded, wrapped, aliased keys and string booleans; errors say what is wrong', () => {
  const want = allLabels(['temporal']);
  assert.deepEqual(parseJudgeReply(JSON.stringify(want)), want);
  assert.deepEqual(parseJudgeReply(`Answer: ${JSON.stringify(want)} -- done {`), want);
  assert.deepEqual(parseJudgeReply(JSON.stringify({ labels: want })), want);
  const aliased = {
    'Attribute abstraction': 'no',
    'pattern-clustering': false,
    'Role/scenario reasoning': 0,
    temporal_reasoning: 'true',
    Self_Explanation: false,
    negative_preference_exclusion: false,
    multi_objective_balancing: 'false',
  };
  assert.deepEqual(parseJudgeReply(JSON.stringify(aliased)), want);
  // braces inside strings do not confuse the scan
  assert.deepEqual(parseJudgeReply(`{"note": "a } b", ${JSON.stringify(want).slice(1)}`), want);
  assert.throws(() => parseJudgeReply('{"temporal": true}'), /lacks key\(s\) attribute_abstraction/);
  assert.throws(() => parseJudgeReply(JSON.stringify({ ...want, temporal: 'maybe' })), /"temporal" is not a boolean/);
  assert.throws(() => parseJudgeReply('no json here'), /no JSON object/);
});

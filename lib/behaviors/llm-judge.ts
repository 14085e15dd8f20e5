// Optional LLM judge for the seven reasoning behaviours, against any OpenAI-compatible chat-completions endpoint.
// Off by default: it needs R2EC_JUDGE_BASE_URL and R2EC_JUDGE_MODEL (R2EC_JUDGE_API_KEY if the server wants one).
// A text whose reply cannot be read after the retries gets labels null and an error string; it is counted in
// stats() and reported, never dropped.
import { R2ecError } from '../util/errors';
import { BEHAVIORS, BEHAVIOR_IDS, checkInputs, type Behavior, type BehaviorTagger, type TagInput, type TagResult } from './types';

export interface LlmJudgeOptions {
  /** OpenAI-style base URL ending in /v1 (requests go to {baseUrl}/chat/completions); default env R2EC_JUDGE_BASE_URL */
  baseUrl?: string;
  /** bearer token; default env R2EC_JUDGE_API_KEY (optional: local servers often need none) */
  apiKey?: string;
  /** model name sent to the server; default env R2EC_JUDGE_MODEL */
  model?: string;
  /** requests in flight at once; default 4 */
  concurrency?: number;
  /** per-request timeout in ms; default 60000 */
  timeoutMs?: number;
  /** extra attempts after a malformed reply, a timeout, a network error, HTTP 429 or 5xx; default 1 */
  retries?: number;
  /** sampling temperature; default 0 (deterministic judging) */
  temperature?: number;
  /** max_tokens of the reply; default 300 */
  maxTokens?: number;
  /** send response_format {type: "json_object"} (OpenAI, vLLM support it; some servers reject it); default false */
  jsonMode?: boolean;
  /** where to read the R2EC_JUDGE_* variables; default process.env */
  env?: Record<string, string | undefined>;
  /** do not print the failure summary after a tag() call that had failures; default false */
  quiet?: boolean;
}

export interface JudgeStats {
  /** texts judged */
  items: number;
  /** HTTP requests sent */
  requests: number;
  /** requests that were retries */
  retries: number;
  /** texts that got labels null */
  failures: number;
  /** replies whose content held no usable JSON object */
  malformed: number;
  /** non-2xx HTTP replies */
  httpErrors: number;
  /** requests aborted by the timeout */
  timeouts: number;
  /** network errors other than timeouts */
  networkErrors: number;
}

export type LlmJudgeTagger = BehaviorTagger & {
  /** cumulative counters over all tag() calls */
  stats(): JudgeStats;
  readonly url: string;
  readonly model: string;
};

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export const JUDGE_TEXT_START = '<<<REASONING';
export const JUDGE_TEXT_END = 'REASONING>>>';

/** The judge's prompt: the seven definitions, the reasoning text between markers, and the JSON reply format. */
export function buildJudgeMessages(reasoning: string): ChatMessage[] {
  const defs = BEHAVIORS.map((b) => `- ${b.id} (${b.label}): ${b.definition}`).join('\n');
  const template = `{${BEHAVIOR_IDS.map((b) => `"${b}": true or false`).join(', ')}}`;
  return [
    {
      role: 'system',
      content:
        'You are a careful annotator of reasoning texts. You judge only what the text itself does, not whether its conclusions are right. You reply with a JSON object and nothing else.',
    },
    {
      role: 'user',
      content:
        `A recommendation model read a user's purchase history (lines like "12d 3.5h ago: [Title] (4.0)", rating out of 5) ` +
        `and wrote the reasoning text below before recommending the next item.\n\n` +
        `For each of these seven behaviours, decide whether the reasoning text shows it:\n${defs}\n\n` +
        `Quoting or listing a title is not by itself any behaviour.\n\n` +
        `${JUDGE_TEXT_START}\n${reasoning}\n${JUDGE_TEXT_END}\n\n` +
        `Reply with only a JSON object with exactly these seven keys and boolean values:\n${template}`,
    },
  ];
}

function normKey(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

/** Accepted spellings of each key: the id, the human label, and the long names the paper uses. */
const KEY_ALIASES: Record<Behavior, string[]> = (() => {
  const extra: Record<Behavior, string[]> = {
    attribute_abstraction: [],
    pattern_clustering: [],
    role_scenario: ['role_scenario_reasoning', 'role_reasoning', 'scenario_reasoning'],
    temporal: ['temporal_reasoning'],
    self_explanation: [],
    negative_exclusion: ['negative_preference_exclusion', 'negative_preference'],
    multi_objective: ['multi_objective_balancing'],
  };
  const o = {} as Record<Behavior, string[]>;
  for (const b of BEHAVIORS) o[b.id] = [b.id, normKey(b.label), ...extra[b.id]];
  return o;
})();

function toBool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (v === 0 || v === 1) return v === 1;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (s === 'true' || s === 'yes' || s === '1') return true;
    if (s === 'false' || s === 'no' || s === '0') return false;
  }
  return undefined;
}

function labelsFrom(obj: unknown): Record<Behavior, boolean> {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new Error('reply JSON is not an object');
  const o = obj as Record<string, unknown>;
  // Some models wrap the answer: {"labels": {...}} or {"behaviors": {...}}.
  for (const wrap of ['labels', 'behaviors', 'behaviours', 'answer']) {
    const inner = o[wrap];
    if (inner && typeof inner === 'object' && !Array.isArray(inner)) return labelsFrom(inner);
  }
  const byNorm = new Map(Object.entries(o).map(([k, v]) => [normKey(k), v]));
  const labels = {} as Record<Behavior, boolean>;
  const missing: string[] = [];
  for (const b of BEHAVIOR_IDS) {
    const key = KEY_ALIASES[b].find((a) => byNorm.has(a));
    if (key === undefined) {
      missing.push(b);
      continue;
    }
    const v = toBool(byNorm.get(key));
    if (v === undefined) throw new Error(`key "${b}" is not a boolean: ${JSON.stringify(byNorm.get(key))}`);
    labels[b] = v;
  }
  if (missing.length) throw new Error(`reply JSON lacks key(s) ${missing.join(', ')}`);
  return labels;
}

/** Balanced {...} substrings (string-aware), in order of their opening brace. */
function jsonObjectCandidates(s: string): string[] {
  const out: string[] = [];
  for (let i = s.indexOf('{'); i >= 0 && out.length < 20; i = s.indexOf('{', i + 1)) {
    let depth = 0;
    let inStr = false;
    for (let j = i; j < s.length; j++) {
      const c = s[j];
      if (inStr) {
        if (c === '\\') j++;
        else if (c === '"') inStr = false;
      } else if (c === '"') inStr = true;
      else if (c === '{') depth++;
      else if (c === '}' && --depth === 0) {
        out.push(s.slice(i, j + 1));
        break;
      }
    }
  }
  return out;
}

/**
 * Read the seven labels from a judge reply: JSON inside ```json fences, a bare JSON object, or a JSON object with
 * text around it. Throws an Error saying what was wrong when no candidate object carries all seven booleans.
 */
export function parseJudgeReply(content: string): Record<Behavior, boolean> {
  const fenced = [...content.matchAll(/```(?:json|JSON)?\s*([\s\S]*?)```/g)].map((m) => m[1]);
  const candidates = [...fenced, ...fenced.flatMap(jsonObjectCandidates), ...jsonObjectCandidates(content)];
  let lastProblem = 'no JSON object in the reply';
  for (const c of candidates) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(c);
    } catch {
      lastProblem = 'reply holds no valid JSON object';
      continue;
    }
    try {
      return labelsFrom(parsed);
    } catch (e) {
      lastProblem = (e as Error).message;
    }
  }
  throw new Error(lastProblem);
}

function clip(s: string, n = 200): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n)}…` : one;
}

function positiveInt(v: number, field: string): number {
  if (!Number.isInteger(v) || v < 1) throw new R2ecError(`llmJudgeTagger: ${field} must be an integer ≥ 1, got ${v}`);
  return v;
}

/**
 * An LLM-judge tagger. Throws R2ecError at construction when no base URL or model is configured, naming the
 * environment variables to set.
 */
export function llmJudgeTagger(opts: LlmJudgeOptions = {}): LlmJudgeTagger {
  const env = opts.env ?? process.env;
  const baseUrl = (opts.baseUrl ?? env.R2EC_JUDGE_BASE_URL ?? '').trim();
  const model = (opts.model ?? env.R2EC_JUDGE_MODEL ?? '').trim();
  const apiKey = (opts.apiKey ?? env.R2EC_JUDGE_API_KEY ?? '').trim();
  if (!baseUrl || !model) {
    throw new R2ecError(
      `the LLM judge is off: set R2EC_JUDGE_BASE_URL (an OpenAI-compatible base URL ending in /v1, e.g. http://127.0.0.1:8000/v1)` +
        ` and R2EC_JUDGE_MODEL (the model name), plus R2EC_JUDGE_API_KEY if the server needs a key` +
        ` (missing: ${[!baseUrl && 'R2EC_JUDGE_BASE_URL', !model && 'R2EC_JUDGE_MODEL'].filter(Boolean).join(', ')})`,
    );
  }
  let url: string;
  try {
    url = new URL(`${baseUrl.replace(/\/+$/, '')}/chat/completions`).toString();
  } catch {
    throw new R2ecError(`R2EC_JUDGE_BASE_URL is not a URL: "${baseUrl}"`);
  }
  const concurrency = positiveInt(opts.concurrency ?? 4, 'concurrency');
  const timeoutMs = positiveInt(opts.timeoutMs ?? 60_000, 'timeoutMs');
  const retries = opts.retries ?? 1;
  if (!Number.isInteger(retries) || retries < 0) throw new R2ecError(`llmJudgeTagger: retries must be an integer ≥ 0, got ${retries}`);

  const stats: JudgeStats = { items: 0, requests: 0, retries: 0, failures: 0, malformed: 0, httpErrors: 0, timeouts: 0, networkErrors: 0 };

  /** One attempt: labels, or a problem and whether another attempt may help. */
  const attempt = async (reasoning: string): Promise<{ labels: Record<Behavior, boolean> } | { problem: string; retry: boolean }> => {
    stats.requests++;
    const body: Record<string, unknown> = {
      model,
      messages: buildJudgeMessages(reasoning),
      temperature: opts.temperature ?? 0,
      max_tokens: opts.maxTokens ?? 300,
    };
    if (opts.jsonMode) body.response_format = { type: 'json_object' };
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
      text = await res.text();
    } catch (e) {
      const err = e as Error;
      if (err.name === 'TimeoutError' || err.name === 'AbortError') {
        stats.timeouts++;
        return { problem: `timeout after ${timeoutMs} ms`, retry: true };
      }
      stats.networkErrors++;
      const cause = (err as { cause?: Error }).cause;
      return { problem: `network error: ${err.message}${cause ? ` (${cause.message})` : ''}`, retry: true };
    }
    if (!res.ok) {
      stats.httpErrors++;
      return { problem: `HTTP ${res.status}: ${clip(text)}`, retry: res.status === 429 || res.status >= 500 };
    }
    let content: unknown;
    try {
      content = (JSON.parse(text) as { choices?: { message?: { content?: unknown } }[] }).choices?.[0]?.message?.content;
    } catch {
      stats.malformed++;
      return { problem: `response is not chat-completions JSON: ${clip(text)}`, retry: true };
    }
    if (typeof content !== 'string') {
      stats.malformed++;
      return { problem: `response has no choices[0].message.content: ${clip(text)}`, retry: true };
    }
    try {
      return { labels: parseJudgeReply(content) };
    } catch (e) {
      stats.malformed++;
      return { problem: `malformed reply (${(e as Error).message}): ${clip(content)}`, retry: true };
    }
  };

  const judgeOne = async (inp: TagInput): Promise<TagResult> => {
    const problems: string[] = [];
    for (let k = 0; k <= retries; k++) {
      if (k > 0) stats.retries++;
      const r = await attempt(inp.reasoning);
      if ('labels' in r) return { id: inp.id, labels: r.labels, evidence: {} };
      problems.push(r.problem);
      if (!r.retry) break;
    }
    stats.failures++;
    return {
      id: inp.id,
      labels: null,
      evidence: {},
      error: problems.map((p, k) => `attempt ${k + 1}: ${p}`).join('; '),
    };
  };

  return {
    name: `llm-judge:${model}`,
    url,
    model,
    stats: () => ({ ...stats }),
    async tag(inputs: TagInput[]): Promise<TagResult[]> {
      checkInputs(inputs, 'llmJudgeTagger');
      const results: TagResult[] = new Array(inputs.length);
      let next = 0;
      const worker = async () => {
        while (next < inputs.length) {
          const k = next++;
          results[k] = await judgeOne(inputs[k]);
          stats.items++;
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, inputs.length) }, worker));
      const failed = results.filter((r) => r.labels === null);
      if (failed.length && !opts.quiet) {
        console.warn(
          `llm judge (${model}): ${failed.length} of ${inputs.length} texts failed and have labels null; first: "${failed[0].id}": ${failed[0].error}`,
        );
      }
      return results;
    },
  };
}

// The project's own byte-level BPE (bpe.ts) and chat template (chat.ts) written as Hugging Face tokenizer files, so a
// small model exported with lib/model/hf/checkpoint.ts loads in `transformers` / vLLM with its tokenizer:
//   tokenizer.json         BPE model (vocab in GPT-2's byte alphabet, merges in learned order), our pre-tokeniser
//                          regex as a Split + ByteLevel(use_regex=false), the 13 specials as added tokens
//   tokenizer_config.json  bos/eos/pad tokens and our chat template in Jinja (chat.ts: <bos><|user|>\n…<|end|>\n
//                          <|assistant|>\n…)
// Difference left on purpose: Hugging Face recognises added tokens anywhere, so an `<answer>` typed inside the *user*
// turn becomes the special id there, while chat.ts encodes user text with no specials.
import { PRETOKENIZE_PATTERN, SPECIAL, SPECIAL_TOKENS, type Tokenizer } from './bpe';
import { R2ecError } from '../util/errors';

export const SMALL_CHAT_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] }}" +
  "{% if not loop.last or message['role'] != 'assistant' %}{{ '<|end|>\\n' }}{% endif %}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}";

/** tokenizer.json + tokenizer_config.json + special_tokens_map.json contents for one of our tokenizers. */
export function bpeToHFTokenizerFiles(tok: Tokenizer): Record<string, string> {
  // the specials are in the model vocabulary too: the Rust library gives an added token that is not in it a new id
  // after the vocabulary instead of the id written in added_tokens
  const vocab: Record<string, number> = {};
  for (let id = 0; id < tok.vocabSize; id++) {
    const s = tok.idToToken[id];
    if (vocab[s] !== undefined) {
      throw new R2ecError(`tokenizer export: tokens ${vocab[s]} and ${id} have the same bytes "${s}"; Hugging Face BPE needs unique tokens`);
    }
    vocab[s] = id;
  }
  const merges = tok.merges.map(([a, b]) => `${tok.idToToken[a]} ${tok.idToToken[b]}`);
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: PRETOKENIZE_PATTERN }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
      ],
    },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
  const name = (id: number) => SPECIAL_TOKENS[id];
  const config = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: name(SPECIAL.bos),
    eos_token: name(SPECIAL.eos),
    pad_token: name(SPECIAL.pad),
    additional_special_tokens: SPECIAL_TOKENS.filter((_, i) => ![SPECIAL.bos, SPECIAL.eos, SPECIAL.pad].includes(i as 0 | 1 | 2)),
    clean_up_tokenization_spaces: false,
    add_bos_token: false,
    model_max_length: 1000000,
    chat_template: SMALL_CHAT_TEMPLATE,
  };
  const map = { bos_token: config.bos_token, eos_token: config.eos_token, pad_token: config.pad_token, additional_special_tokens: config.additional_special_tokens };
  return {
    'tokenizer.json': JSON.stringify(tokenizerJson),
    'tokenizer_config.json': JSON.stringify(config, null, 2) + '\n',
    'special_tokens_map.json': JSON.stringify(map, null, 2) + '\n',
  };
}

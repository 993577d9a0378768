#!/usr/bin/env python3
"""Make an int8 copy of an exported embedder folder with ONNX Runtime's dynamic quantization, for
measuring it against the original (docs/benchmarks.md, "Int8 embedders"). Not part of set-up: on
this machine neither int8 model met the bar for becoming the default (ingest >= 1.8x faster).

  quantize_embedder.py MODEL_DIR OUT_DIR

The weights of every MatMul become int8, one scale per output channel (per-channel: per-tensor
scales cost MiniLM a mean cosine of 0.93 against its fp32 vectors); activations are quantized
per batch at run time. multilingual-e5-small's exported graph keeps its weights 4-bit
(MatMulNBits), which dynamic quantization does not read: those matrices are first dequantized
to fp32 (exactly the 4-bit values, so the int8 model quantizes the same weights the original
runs). The folder's other files are copied; `model.json` gets " int8" after its id (so an index
built with one is never searched with the other) and SHA256SUMS is rewritten. The script prints
the cosine between the original's and the int8 model's embeddings of the multilingual test
sentences.
"""

import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic
from tokenizers import Tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from export_common import mean_pool, write_sums  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = ROOT / "tests" / "fixtures" / "multilingual_sentences.txt"


def dequantize_nbits(model):
    """Replaces each 4-bit MatMulNBits node by a MatMul over the same weights in fp32."""
    inits = {i.name: i for i in model.graph.initializer}
    nodes = []
    for idx, node in enumerate(model.graph.node):
        if node.op_type != "MatMulNBits":
            nodes.append(node)
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        k, n, block = attrs["K"], attrs["N"], attrs["block_size"]
        if attrs.get("bits", 4) != 4 or len(node.input) > 3:
            sys.exit(f"{node.name}: only 4-bit MatMulNBits without zero points is handled")
        packed = numpy_helper.to_array(inits[node.input[1]])  # [N, blocks, block / 2]
        scales = numpy_helper.to_array(inits[node.input[2]]).reshape(n, -1)
        values = np.empty(packed.shape[:-1] + (block,), np.float32)
        values[..., 0::2] = packed & 0x0F  # MatMulNBits: byte j holds weights 2j (low), 2j + 1
        values[..., 1::2] = packed >> 4
        weights = ((values - 8.0) * scales[..., None]).reshape(n, -1)[:, :k]
        name = f"{node.input[1]}_fp32"
        model.graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(weights.T), name))
        nodes.append(helper.make_node("MatMul", [node.input[0], name], list(node.output), name=f"matmul_{idx}"))
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    used = {i for node in model.graph.node for i in node.input}
    kept = [i for i in model.graph.initializer if i.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    return model


def embed(model_path, tokenizer_path, texts):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    tokenizer.enable_truncation(512)
    tokenizer.enable_padding()
    names = {i.name for i in session.get_inputs()}
    out = []
    for i in range(0, len(texts), 32):
        enc = tokenizer.encode_batch(texts[i:i + 32])
        ids = np.array([e.ids for e in enc], np.int64)
        mask = np.array([e.attention_mask for e in enc], np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in names:
            feed["token_type_ids"] = np.zeros_like(ids)
        out.append(mean_pool(session.run(None, feed)[0], mask))
    return np.concatenate(out)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    if not (src / "model.onnx").is_file():
        sys.exit(f"{src}: no model.onnx (export the embedder first: bash scripts/setup.sh)")
    if out.resolve() == src.resolve():
        sys.exit("OUT_DIR must differ from MODEL_DIR")
    out.mkdir(parents=True, exist_ok=True)
    model = onnx.load(str(src / "model.onnx"))
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        onnx.save(dequantize_nbits(model), str(fp32))
        quantize_dynamic(str(fp32), str(out / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True)
    names = ["model.onnx"]
    for f in sorted(src.iterdir()):
        if f.is_file() and f.name not in ("model.onnx", "SHA256SUMS", "EXPORTED"):
            shutil.copy2(f, out / f.name)
            names.append(f.name)
    meta = json.loads((out / "model.json").read_text())
    meta["id"] = meta["id"] + " int8"
    (out / "model.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    write_sums(out, names)
    prefix = meta.get("passage_prefix", "")
    texts = [prefix + line for line in SENTENCES.read_text(encoding="utf-8").splitlines() if line.strip()]
    a = embed(src / "model.onnx", src / "tokenizer.json", texts)
    b = embed(out / "model.onnx", out / "tokenizer.json", texts)
    cos = (a * b).sum(1)
    size = (out / "model.onnx").stat().st_size / 1e6
    print(f"{out}: int8 model.onnx {size:.1f} MB; cosine with {src.name} on {len(texts)} sentences: "
          f"min {cos.min():.5f}, mean {cos.mean():.5f}")


if __name__ == "__main__":
    main()

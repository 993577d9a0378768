#!/usr/bin/env python3
"""Measures this machine's fp32 matrix-multiply rate through ONNX Runtime (its MLAS kernels, the
ones an embedder's MatMuls run on): a 2048 x 2048 by 2048 x 2048 MatMul on THREADS intra-op
threads, best of 7 runs after a warm-up. Prints GFLOP/s (2 FLOPs per multiply-add) on one line.

Used by `cargo bench --bench ingest` as the ceiling an embedder could reach here.
Usage: peak_flops.py [THREADS]   (needs numpy, onnx and onnxruntime: the project's .venv)
"""

import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

N = 2048


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [N, N])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [N, N])
    c = helper.make_tensor_value_info("c", TensorProto.FLOAT, [N, N])
    graph = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["c"])], "mm", [a, b], [c])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feed = {"a": rng.standard_normal((N, N), np.float32), "b": rng.standard_normal((N, N), np.float32)}
    session.run(None, feed)
    best = float("inf")
    for _ in range(7):
        t = time.perf_counter()
        session.run(None, feed)
        best = min(best, time.perf_counter() - t)
    print(f"{2 * N ** 3 / best / 1e9:.1f}")


if __name__ == "__main__":
    main()

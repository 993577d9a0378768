#!/usr/bin/env python3
"""Fit the evidence models that decide refusal, from `rag eval --answers --json` reports.

    scripts/fit_refusal.py [--target 0.92] [--cross-target 0.92] report1.json report2.json ...

Each report's `per_question` holds every question's evidence signals and whether its document was
left out of the index (unanswerable). Three logistic models are fitted (plain Newton steps with a
little L2, numpy only): questions in the language of their best passage (cosine, margin,
rarity-weighted coverage in the best three passages and in the best one, rarity of the rarest
missing word, the cosine less the index's neighbour similarity), questions in another language (cosine, margin, the closest sentence's cosine),
and BM25 alone (the three word signals). Each model's bias is then shifted so that refusing below 0.5 refuses `--target` of the
unanswerable questions it scores. Prints the constants for crates/query/src/retrieve/evidence.rs and, per
report, what that operating point does.
"""
import argparse
import json
import re
import sys

import numpy as np

SAME = ["similarity", "margin", "rare_coverage", "best_coverage", "missing", "relative_similarity"]
CROSS = ["similarity", "margin", "sentence_similarity"]
LEXICAL = ["rare_coverage", "best_coverage", "missing"]


def signals(ev, names, typical):
    # A question whose sentences could not be embedded is judged by its chunk's cosine there
    # (as crates/query/src/retrieve/evidence.rs does).
    ev = dict(ev)
    if ev.get("sentence_similarity") is None:
        ev["sentence_similarity"] = ev.get("similarity")
    # The question's cosine read against how near the index's chunks lie to other documents'
    # (`typical` for an index of one document).
    neighbour = ev.get("neighbour_similarity")
    ev["relative_similarity"] = float(ev.get("similarity") or 0.0) - (
        typical if neighbour is None else float(neighbour))
    return [float(ev.get(n) or 0.0) for n in names]


def fit(x, y, l2=1e-3, steps=50):
    """Logistic regression by Newton's method; returns (bias, weights)."""
    x1 = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(x1.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-x1 @ w))
        grad = x1.T @ (p - y) + l2 * np.r_[0, w[1:]]
        h = (x1.T * (p * (1 - p))) @ x1 + l2 * np.diag(np.r_[0, np.ones(len(w) - 1)])
        step = np.linalg.solve(h, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[0], w[1:]


def cut_for(z_unanswerable, target):
    """The z below which `target` of these unanswerable questions fall."""
    u = np.sort(z_unanswerable)
    k = min(len(u) - 1, int(np.ceil(target * len(u))) - 1)
    return (u[k] + u[min(k + 1, len(u) - 1)]) / 2


def shifted_bias(bias, weights, x, y, sets, target, cut_on=None):
    """The bias that puts 0.5 where `target` of the unanswerable (y == 0) are refused in every
    report with at least 20 of them (in all, for smaller ones); only the reports whose path
    matches `cut_on` (a regular expression) when it is given."""
    z = x @ weights + bias
    if not (y == 0).any():
        return bias
    # Refused when z + shift < 0: the highest of the per-set cuts goes to 0.
    cuts = [cut_for(z[(y == 0) & (sets == s)], target)
            for s in np.unique(sets) if ((y == 0) & (sets == s)).sum() >= 20
            and (cut_on is None or re.search(cut_on, s))]
    return bias - max(cuts or [cut_for(z[y == 0], target)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reports", nargs="+")
    ap.add_argument("--target", type=float, default=0.92, help="unanswerable share to refuse")
    ap.add_argument("--cross-target", type=float, default=0.92,
                    help="the same across languages")
    ap.add_argument("--lexical-target", type=float, default=0.8,
                    help="the same for BM25 alone, a degraded mode whose words separate less")
    ap.add_argument("--cut-on", default=None,
                    help="regular expression: only reports whose path matches set the operating "
                         "point (all are fitted on)")
    args = ap.parse_args()
    rows = {"same": [], "cross": [], "lexical": []}
    reports = []
    for path in args.reports:
        with open(path, encoding="utf-8") as f:
            reports.append((path, json.load(f)))
    # The mean of the tuning indexes' neighbour similarity: what an index without one is given.
    neighbours = {r["index"]: q["evidence"]["neighbour_similarity"] for _, r in reports
                  for q in r["per_question"] if q["evidence"].get("neighbour_similarity") is not None}
    typical = float(np.mean(list(neighbours.values()))) if neighbours else 0.0
    print(f"typical_neighbour: {typical:.3f} (mean of {len(neighbours)} indexes)")
    for path, report in reports:
        for q in report["per_question"]:
            ev = q["evidence"]
            y = 0.0 if q["unanswerable"] else 1.0
            if ev.get("similarity") is None:
                rows["lexical"].append((signals(ev, LEXICAL, typical), y, path))
            elif ev.get("cross_lingual"):
                # Words cannot match across languages: BM25 alone has nothing to judge there.
                rows["cross"].append((signals(ev, CROSS, typical), y, path))
            else:
                rows["same"].append((signals(ev, SAME, typical), y, path))
                rows["lexical"].append((signals(ev, LEXICAL, typical), y, path))
    models = {}
    for name, data in rows.items():
        if not data:
            print(f"# {name}: no questions", file=sys.stderr)
            continue
        x = np.array([r[0] for r in data])
        y = np.array([r[1] for r in data])
        sets = np.array([r[2] for r in data])
        bias, weights = fit(x, y)
        target = {"lexical": args.lexical_target, "cross": args.cross_target}.get(name, args.target)
        bias = shifted_bias(bias, weights, x, y, sets, target, args.cut_on)
        z = x @ weights + bias
        refused_u = float(np.mean(z[y == 0] < 0)) if (y == 0).any() else float("nan")
        refused_a = float(np.mean(z[y == 1] < 0)) if (y == 1).any() else float("nan")
        models[name] = (bias, weights)
        print(f"// {name}: {len(data)} questions ({int((y == 0).sum())} unanswerable); "
              f"refuses {refused_u:.3f} of the unanswerable, {refused_a:.3f} of the answerable")
        ws = ", ".join(f"{w:.3f}" for w in weights)
        print(f"{name}: Logistic {{ bias: {bias:.3f}, weights: &[{ws}] }}")
    print(json.dumps({k: {"bias": float(b), "weights": [float(w) for w in ws]}
                      for k, (b, ws) in models.items()}))


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Re-measures the retrieval variants listed in docs/retrieval.md: each variant is a few lines of
# config, and `rag eval` runs it on a BEIR dataset (default: ../shared/eval/scifact) and on the
# sample corpus's golden questions. One evaluation index per chunk size is kept under
# index/eval/ and reused; building one for SciFact takes about 5 minutes on 2 cores.
#
# Usage: bash scripts/eval_variants.sh [DATASET]
set -euo pipefail
cd "$(dirname "$0")/.."
dataset="${1:-../shared/eval/scifact}"
rag=target/release/rag
[ -x "$rag" ] || cargo build --release --quiet
name="$(basename "$(realpath "$dataset")")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# chunk tokens | retrieval settings (TOML lines separated by ';')
variants=(
  "128|fusion = \"rrf\"; title_boost = 1.5"
  "128|fusion = \"rrf\"; title_boost = 1.0"
  "128|fusion = \"rrf\"; title_boost = 0.5"
  "128|fusion = \"rrf\"; title_boost = 0.3"
  "128|fusion = \"rrf\"; title_boost = 0.2"
  "128|fusion = \"rrf\"; title_boost = 0.3; rrf_k = 20"
  "128|fusion = \"rrf\"; title_boost = 0.3; doc_weight = 1.0"
  "128|fusion = \"blend\"; title_boost = 0.3"
  "128|fusion = \"blend\"; title_boost = 0.5; vector_weight = 1.5"
  "192|fusion = \"rrf\"; title_boost = 0.3"
  "192|fusion = \"rrf\"; title_boost = 0.3; rrf_k = 20"
  "192|fusion = \"blend\"; title_boost = 1.0"
  "192|fusion = \"blend\"; title_boost = 0.5"
  "192|fusion = \"blend\"; title_boost = 0.3"
  "192|fusion = \"blend\"; title_boost = 0.2"
  "192|fusion = \"blend\"; title_boost = 0.3; vector_weight = 0.8"
  "192|fusion = \"blend\"; title_boost = 0.3; vector_weight = 1.2"
  "192|fusion = \"blend\"; title_boost = 0.3; doc_weight = 0.5"
  "192|fusion = \"blend\"; title_boost = 0.3; candidates = 100"
  "254|fusion = \"rrf\"; title_boost = 0.3; rrf_k = 20"
  "254|fusion = \"blend\"; title_boost = 0.3"
)

row() { # label json-file
  python3 - "$1" "$2" <<'EOF'
import json, sys
r = json.load(open(sys.argv[2]))
m = r["modes"]
cells = " | ".join(f'{m[k]["ndcg_10"]:.4f}' for k in ("bm25", "dense", "hybrid"))
print(f'| {sys.argv[1]} | {cells} | {m["hybrid"]["recall_20"]:.4f} | {m["hybrid"]["mrr_10"]:.4f} |', end="")
EOF
}

echo "| variant | $name bm25 | dense | hybrid nDCG@10 | hybrid R@20 | hybrid MRR@10 | golden bm25 | dense | hybrid nDCG@10 | hybrid R@20 | hybrid MRR@10 |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for v in "${variants[@]}"; do
  tokens="${v%%|*}"
  settings="${v#*|}"
  printf '[chunking]\nmax_tokens = %s\n[retrieval]\n%s\n' "$tokens" "${settings//; /$'\n'}" > "$tmp/rag.toml"
  "$rag" --config "$tmp/rag.toml" eval --dataset "$dataset" \
    --eval-index "index/eval/$name-$tokens" --json > "$tmp/beir.json"
  "$rag" --config "$tmp/rag.toml" eval --dataset corpora --questions tests/golden/questions.jsonl \
    --eval-index "index/eval/corpora-$tokens" --json > "$tmp/golden.json"
  row "chunks $tokens; $settings" "$tmp/beir.json"
  python3 - "$tmp/golden.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))["modes"]
cells = " | ".join(f'{m[k]["ndcg_10"]:.4f}' for k in ("bm25", "dense", "hybrid"))
print(f' {cells} | {m["hybrid"]["recall_20"]:.4f} | {m["hybrid"]["mrr_10"]:.4f} |')
EOF
done

#!/usr/bin/env bash
# The held-out answer table of docs/retrieval.md ("Refusal: when the documents do not say"):
# every QA dev set of ../shared/eval with whole articles left out (scripts/unanswerable.py), asked
# as POST /v1/ask asks without a model (`rag eval --answers`), same-language and, with XQuAD's
# English documents, in German, Chinese and Arabic. Reports go to OUT (default
# target/eval-answers/), one JSON per row, and the table is printed.
#
#   bash scripts/eval_answers.sh [tune|heldout|all] [OUT]
#
# LIMIT=N asks N questions of each set (spread evenly by id) instead of all; ONLY=REGEX runs
# the rows whose name matches (e.g. ONLY='^xquad-(de|zh)$').
# tune: XQuAD (en, de, zh, ar, and English documents asked in de, zh, ar) and the five dev sets
# with the articles of seed 1 left out: what scripts/fit_refusal.py fits on (the models in
# crates/query/src/retrieve/evidence.rs were fitted on the XQuAD rows alone; see docs/retrieval.md). heldout: XQuAD with the articles of seed
# 2 left out (and es, ru, hi questions of English documents), and the five dev sets with seed 2.
# Indexes are kept under index/eval/ and reused; the first run ingests every set (about 20
# minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
which="${1:-heldout}"
out="${2:-target/eval-answers}"
shared=../shared/eval
rag="${RAG:-target/release/rag}"
[ -x "$rag" ] || cargo build --release --quiet
mkdir -p "$out/sets"

# name | dataset | queries (or -) | seed
rows=()
if [ "$which" = tune ] || [ "$which" = all ]; then
  for l in en de zh ar; do rows+=("tune-xquad-$l|xquad_dev/$l|-|1"); done
  for l in de zh ar; do rows+=("tune-xquad-en-$l|xquad_dev/en|xquad_dev/$l/queries.jsonl|1"); done
  for d in arcd_ar cmrc2018_zh jsquad_ja korquad_ko squadit_it; do rows+=("tune-$d|$d|-|1"); done
fi
if [ "$which" = heldout ] || [ "$which" = all ]; then
  for l in en de zh ar es ru; do rows+=("xquad-$l|xquad_dev/$l|-|2"); done
  for l in de zh ar es ru hi; do rows+=("xquad-en-$l|xquad_dev/en|xquad_dev/$l/queries.jsonl|2"); done
  for d in arcd_ar cmrc2018_zh jsquad_ja korquad_ko squadit_it; do rows+=("$d|$d|-|2"); done
fi

printf '%-20s %8s %8s %8s %12s %12s %8s\n' set gold wrong refused unans-refused unans-answered ms
for row in "${rows[@]}"; do
  IFS='|' read -r name dataset queries seed <<<"$row"
  [ -z "${ONLY:-}" ] || [[ "$name" =~ $ONLY ]] || continue
  set_file="$out/sets/$(echo "$dataset" | tr / -)-seed$seed.txt"
  python3 scripts/unanswerable.py "$shared/$dataset" --seed "$seed" >"$set_file"
  args=(eval --dataset "$shared/$dataset" --answers --unanswerable-from "$set_file" --json)
  [ "$queries" = - ] || args+=(--queries "$shared/$queries")
  [ -z "${LIMIT:-}" ] || args+=(--limit "$LIMIT")
  "$rag" "${args[@]}" >"$out/$name.json"
  python3 - "$out/$name.json" "$name" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]:<20} {r['answered_gold']:8.3f} {r['answered_wrongly']:8.3f} {r['refused_answerable']:8.3f} "
      f"{r.get('unanswerable_refused') or 0:12.3f} {r.get('unanswerable_answered') or 0:12.3f} {r['mean_ask_ms']:8.0f}")
PY
done

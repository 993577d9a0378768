#!/usr/bin/env bash
# Re-measures the retrieval variants listed in docs/retrieval.md: `cargo xtask eval-variants`,
# which writes each variant as a config file and runs `rag eval` on a BEIR dataset (default:
# ../shared/eval/scifact) and on the sample corpus's golden questions. One evaluation index per
# chunk size is kept under index/eval/ and reused; building one for SciFact takes about 5
# minutes on 2 cores.
#
# Usage: bash scripts/eval_variants.sh [DATASET]
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo xtask eval-variants "$@"

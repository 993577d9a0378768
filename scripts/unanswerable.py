#!/usr/bin/env python3
"""Choose whole articles of a BEIR QA set to leave out, for `rag eval --answers --unanswerable-from`.

Prints the corpus ids of every paragraph of the chosen articles, one per line. Their questions stay
in the set and become ones the documents cannot answer. An article is the `a<N>` prefix of XQuAD's
`a<N>p<M>` ids, else the record's title (records without a title are their own article).

    scripts/unanswerable.py ../shared/eval/xquad_dev/en --share 0.33 --seed 1 > removed.txt

Articles are drawn with Python's random.Random(seed) until `share` of the paragraphs are chosen.
"""
import argparse
import json
import random
import re
import sys
from pathlib import Path


def article(record):
    m = re.fullmatch(r"(a\d+)p\d+", record["_id"])
    if m:
        return m.group(1)
    return record.get("title") or record["_id"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path, help="a BEIR folder with corpus.jsonl")
    ap.add_argument("--share", type=float, default=0.33, help="share of paragraphs to leave out")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if not 0 < args.share < 1:
        sys.exit("--share must be between 0 and 1")
    by_article = {}
    with open(args.dataset / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                by_article.setdefault(article(r), []).append(r["_id"])
    names = sorted(by_article)
    random.Random(args.seed).shuffle(names)
    total = sum(len(v) for v in by_article.values())
    chosen = 0
    print(f"# {args.dataset.name}: whole articles left out, seed {args.seed}, share {args.share}")
    for name in names:
        if chosen >= args.share * total:
            break
        for pid in by_article[name]:
            print(pid)
        chosen += len(by_article[name])


if __name__ == "__main__":
    main()

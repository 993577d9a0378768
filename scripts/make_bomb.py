#!/usr/bin/env python3
"""Writes a DOCX decompression bomb for measuring `rag ingest` against it (docs/benchmarks.md).

usage: python3 scripts/make_bomb.py OUT.docx [UNPACKED_MIB]

The file has just the parts docx-rs needs; its word/document.xml is one paragraph of one letter
repeated to UNPACKED_MIB (default 400), which deflate packs about 1000:1 (400 MiB -> ~408 KB).
"""
import sys
import zipfile

CONTENT_TYPES = (
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
RELS = (
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="word/document.xml"/></Relationships>'
)
DOC_RELS = '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"></Relationships>'


def main() -> None:
    out = sys.argv[1]
    size = int(sys.argv[2] if len(sys.argv) > 2 else 400) << 20
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", RELS)
        z.writestr("word/_rels/document.xml.rels", DOC_RELS)
        with z.open("word/document.xml", "w", force_zip64=False) as f:
            f.write(
                b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
                b'wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>'
            )
            block = b"a" * (1 << 20)
            left = size
            while left > 0:
                n = min(left, len(block))
                f.write(block[:n])
                left -= n
            f.write(b"</w:t></w:r></w:p></w:body></w:document>")


if __name__ == "__main__":
    main()

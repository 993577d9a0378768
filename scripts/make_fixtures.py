#!/usr/bin/env python3
"""Writes the sample corpus's non-text documents, deterministically, with the standard library
only: a two-page PDF (blood tests), a DOCX (the hospital shop) and an HTML page with navigation
boilerplate (volunteering). The outputs are committed under corpora/; rerun after editing.

Usage: python3 scripts/make_fixtures.py [OUT_DIR]   (default: corpora)
"""

import sys
import zipfile
from pathlib import Path

PDF_PAGES = [
    [
        "Blood Tests and Samples",
        "",
        "The blood test centre is in the outpatient hall, room 14. It is open",
        "Monday to Friday from 07:30 to 16:00. No appointment is needed:",
        "take a number from the ticket machine at the door.",
        "",
        "Fasting blood tests: do not eat for 12 hours before the test.",
        "You may drink water.",
    ],
    [
        "Results",
        "",
        "Results go to the doctor who asked for the test, usually within",
        "three working days. The clinic cannot give results by phone.",
        "Children's blood tests are taken in the children's outpatient area",
        "on floor 2, where numbing cream is offered.",
    ],
]


def pdf_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages, title):
    objects = []  # index i holds object i+1

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    pages_id = len(objects) + 1
    objects.append(None)  # the page tree, filled in below
    kids = []
    for lines in pages:
        ops = ["BT", "/F1 11 Tf", "14 TL", "72 740 Td"]
        for line in lines:
            ops.append(f"({pdf_escape(line)}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages_id, content, font)
            )
        )
    objects[pages_id - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    info = add(b"<< /Title (%s) /Producer (rag make_fixtures.py) >>" % pdf_escape(title).encode())
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        catalog,
        info,
        xref,
    )
    return bytes(out)


DOCX_PARAGRAPHS = [
    ("Title", "Hospital Shop and Cash Machines"),
    ("Heading1", "The shop"),
    (None, "The hospital shop is in the main entrance hall, opposite the pharmacy. It sells "
           "newspapers, snacks, flowers, toiletries and phone chargers."),
    (None, "It is open every day from 08:00 to 20:00, including weekends."),
    ("Heading1", "Cash machines"),
    (None, "There are two cash machines: one by the shop and one at the entrance of the "
           "emergency department. Both are free to use."),
    ("Heading2", "Card payments"),
    (None, "The shop, the cafe and the car park pay stations all take contactless cards."),
]


def make_docx(paragraphs):
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"

    def esc(s):
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    body = []
    for style, text in paragraphs:
        ppr = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
        body.append(f'<w:p>{ppr}<w:r><w:t xml:space="preserve">{esc(text)}</w:t></w:r></w:p>')
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<w:document xmlns:w="{w}"><w:body>{"".join(body)}<w:sectPr/></w:body></w:document>'
    )
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
        "</Types>"
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
        'Target="word/document.xml"/></Relationships>'
    )
    doc_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"></Relationships>'
    )
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in [
            ("[Content_Types].xml", content_types),
            ("_rels/.rels", rels),
            ("word/_rels/document.xml.rels", doc_rels),
            ("word/document.xml", document),
        ]:
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return buf.getvalue()


HTML = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Volunteering at the Hospital</title>
<style>nav a { margin: 0 1em; } .banner { font-size: 2em; }</style>
<script>window.analytics = { track: function () {} };</script>
</head>
<body>
<header class="banner">City General Hospital</header>
<nav><a href="/">Home</a> <a href="/visit">Visiting</a> <a href="/jobs">Jobs</a></nav>
<main>
<h1>Volunteering</h1>
<p>Volunteers help on the wards, at the welcome desk and in the chaplaincy. You must be 16
or older. Volunteers give at least three hours a week for six months.</p>
<h2>How to apply</h2>
<p>Fill in the form at the volunteer office on floor 0, by the main lifts. The office is
open Tuesday and Thursday from 10:00 to 15:00. Every volunteer needs a background check,
which the hospital pays for.</p>
<h2>Training</h2>
<p>New volunteers attend a half-day induction on the first Monday of each month.</p>
</main>
<aside>Related: <a href="/donate">Donate</a></aside>
<footer>Copyright City General Hospital. Privacy policy. Cookie settings.</footer>
</body>
</html>
"""


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "corpora")
    out.mkdir(parents=True, exist_ok=True)
    (out / "blood-tests.pdf").write_bytes(make_pdf(PDF_PAGES, "Blood Tests and Samples"))
    (out / "hospital-shop.docx").write_bytes(make_docx(DOCX_PARAGRAPHS))
    (out / "volunteering.html").write_text(HTML, encoding="utf-8")
    print(f"wrote blood-tests.pdf, hospital-shop.docx, volunteering.html to {out}")


if __name__ == "__main__":
    main()

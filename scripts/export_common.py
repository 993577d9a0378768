"""What the embedder exporters share: checksums, the up-to-date check, mean pooling."""

import hashlib

import numpy as np


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_sums(folder, names):
    """Writes folder/SHA256SUMS for the files `names` (paths relative to folder)."""
    (folder / "SHA256SUMS").write_text("".join(f"{sha256(folder / n)}  {n}\n" for n in names))


def up_to_date(out, stamp_text):
    """True when `out` was exported with `stamp_text` and every file matches its checksum."""
    stamp, sums = out / "EXPORTED", out / "SHA256SUMS"
    if not (stamp.exists() and stamp.read_text() == stamp_text and sums.exists()):
        return False
    bad = [line.split("  ", 1)[1] for line in sums.read_text().splitlines()
           if not (out / line.split("  ", 1)[1]).exists()
           or sha256(out / line.split("  ", 1)[1]) != line.split("  ", 1)[0]]
    if bad:
        print(f"{out}: checksum mismatch in {', '.join(bad)}; exporting again")
    return not bad


def mean_pool(hidden, mask):
    """Mean over the real tokens, L2-normalised (what fastembed's mean pooling does)."""
    m = mask[..., None].astype(np.float64)
    pooled = (hidden * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

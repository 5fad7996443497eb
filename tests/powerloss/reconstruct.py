"""Turn the shadow kept by libpowerloss.so into the state directory a disk would hold
after a power cut: every directory as its last fsync listed it, every file as its last
fsync left it (empty when it was never synced). See powerloss.c for the model."""

import os
import sys


def reconstruct(shadow, out):
    with open(os.path.join(shadow, "root")) as f:
        root = f.read().strip()
    os.makedirs(out, exist_ok=True)
    _fill(shadow, root, out, set())


def _fill(shadow, key, path, seen):
    if key in seen:  # a directory cannot contain itself; guard against a bad image
        return
    seen.add(key)
    listing = os.path.join(shadow, "d-" + key)
    if not os.path.exists(listing):
        return  # created after the start and never synced: its entries are lost
    with open(listing) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            kind, child_key, name = line.split(" ", 2)
            child = os.path.join(path, name)
            if kind == "d":
                os.makedirs(child, exist_ok=True)
                _fill(shadow, child_key, child, seen)
            else:
                data = b""
                src = os.path.join(shadow, "f-" + child_key)
                if os.path.exists(src):
                    with open(src, "rb") as s:
                        data = s.read()
                with open(child, "wb") as d:
                    d.write(data)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: reconstruct.py SHADOW OUT")
    reconstruct(sys.argv[1], sys.argv[2])

#!/usr/bin/env python3
"""The power-cut model itself (tests/powerloss): what libpowerloss.so and reconstruct.py
rebuild must be something a disk could hold after the power went out.

The case that once broke it: a file deleted after its directory was last synced comes
back whole after a cut (the deletion was never made durable), even when the file system
has since given its inode number to a new file that was synced. Keyed by inode number
alone, the rebuilt directory showed the deleted file's name with the new file's bytes:
the power-cut test then saw a journal segment holding a tank snapshot and simd, rightly,
refused to start. A small process under the interposer does exactly that here."""
import os
import subprocess
import sys

from twlib import BUILD, Tap, tmpdir

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "powerloss"))
from reconstruct import reconstruct  # noqa: E402

CHILD = r"""
import os, sys
d = sys.argv[1]
def put(name, data):
    fd = os.open(os.path.join(d, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, data)
    os.fsync(fd)
    ino = os.fstat(fd).st_ino
    os.close(fd)
    return ino
def sync_dir():
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(fd)
    os.close(fd)
old = put("old.log", b"old bytes\n")
put("kept.log", b"kept\n")
sync_dir()
os.unlink(os.path.join(d, "old.log"))  # not made durable: no directory sync follows
reused = False
for i in range(200):  # the next new files: one usually gets old.log's inode number
    if put("new%03d" % i, b"new bytes %d\n" % i) == old:
        reused = True
        break
print("reused" if reused else "not reused", flush=True)
"""

t = Tap()
LIB = os.path.join(BUILD, "tests", "powerloss", "libpowerloss.so")
root = tmpdir("twplm")
try:
    if not os.path.exists(LIB):
        raise RuntimeError("missing %s" % LIB)
    state, shadow, out = (os.path.join(root, x) for x in ("state", "shadow", "out"))
    for x in (state, shadow):
        os.makedirs(x)
    env = dict(os.environ, LD_PRELOAD=LIB, TW_POWERLOSS_DIR=state, TW_POWERLOSS_SHADOW=shadow)
    p = subprocess.run([sys.executable, "-c", CHILD, state], env=env, capture_output=True,
                       text=True, timeout=60)
    t.eq(p.returncode, 0, "the writer ran under the interposer")
    t.diag("inode number of the deleted file %s by a synced new one (file system: %s)"
           % ("taken" if "reused" in p.stdout else "not taken", p.stdout.strip() or p.stderr[-300:]))
    reconstruct(shadow, out)
    names = sorted(os.listdir(out))
    t.eq(names, ["kept.log", "old.log"], "the rebuilt directory is the one last synced")

    def read(name):
        with open(os.path.join(out, name), "rb") as f:
            return f.read()
    t.eq(read("old.log"), b"old bytes\n", "the deleted file comes back with its own bytes")
    t.eq(read("kept.log"), b"kept\n", "and the file beside it too")
finally:
    import shutil
    shutil.rmtree(root, ignore_errors=True)
t.done()

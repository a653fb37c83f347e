#!/usr/bin/env python3
"""The speed issue's reference data: the first 1 GiB of the regular files of this machine's
Python site-packages, walked in sorted path order and concatenated into OUT.

Usage: python3 scripts/sitepackages-gib.py OUT   (the device scripts then compress OUT at
level 9 with `dsr compress`)."""
import os
import sys
import sysconfig

root, out = sysconfig.get_paths()["purelib"], sys.argv[1]
paths = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)
left = 1 << 30
with open(out, "wb") as o:
    for p in paths:
        if left == 0:
            break
        if not os.path.isfile(p) or os.path.islink(p):
            continue
        with open(p, "rb") as f:
            b = f.read(left)
        o.write(b)
        left -= len(b)
print(f"{root}: {len(paths)} files, {(1 << 30) - left} bytes")

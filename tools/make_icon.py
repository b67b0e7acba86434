#!/usr/bin/env python3
"""Draws assets/icon.png, the app icon (window and page favicon): six agents on a ring around a seventh, linked,
in the view's palette (healthy blue, immune green, one compromised red), on the scene's background. Pure standard
library: python3 tools/make_icon.py writes it again."""
import math
import struct
import zlib

SIZE = 64
BACKGROUND = (15, 20, 27)
EDGE = (80, 96, 118)
OUTLINE = (5, 8, 13)
HEALTHY = (79, 163, 224)
IMMUNE = (48, 196, 140)
COMPROMISED = (229, 71, 77)

pixels = [[BACKGROUND for _ in range(SIZE)] for _ in range(SIZE)]
centre = (SIZE / 2, SIZE / 2)
ring = [(centre[0] + 22 * math.cos(a), centre[1] + 22 * math.sin(a))
        for a in (math.tau * k / 6 - math.pi / 2 for k in range(6))]


def segment(a, b, width, colour):
    for y in range(SIZE):
        for x in range(SIZE):
            px, py = x + 0.5, y + 0.5
            dx, dy = b[0] - a[0], b[1] - a[1]
            t = max(0.0, min(1.0, ((px - a[0]) * dx + (py - a[1]) * dy) / (dx * dx + dy * dy)))
            qx, qy = a[0] + t * dx, a[1] + t * dy
            if math.hypot(px - qx, py - qy) <= width / 2:
                pixels[y][x] = colour


def disc(c, r, colour, square=False):
    for y in range(SIZE):
        for x in range(SIZE):
            px, py = x + 0.5 - c[0], y + 0.5 - c[1]
            inside = max(abs(px), abs(py)) <= r * 0.85 if square else math.hypot(px, py) <= r
            if inside:
                pixels[y][x] = colour


for k in range(6):
    segment(ring[k], ring[(k + 1) % 6], 2.0, EDGE)
    segment(ring[k], centre, 2.0, EDGE)
for k, p in enumerate(ring):
    disc(p, 7.5, OUTLINE)
    if k in (0, 1, 2):
        disc(p, 6.0, IMMUNE, square=True)
    else:
        disc(p, 6.0, HEALTHY)
disc(centre, 8.0, OUTLINE)
disc(centre, 6.5, COMPROMISED)

raw = b"".join(b"\x00" + bytes(v for px in row for v in px) for row in pixels)


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", SIZE, SIZE, 8, 2, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
with open("assets/icon.png", "wb") as f:
    f.write(png)

"""An RGB raster with a 5x7 bitmap font, written out as PNG with the standard library only."""

from __future__ import annotations

import math
import struct
import zlib

Color = tuple[int, int, int]

GLYPH_WIDTH = 5
GLYPH_HEIGHT = 7
ADVANCE = GLYPH_WIDTH + 1  # glyph columns plus one blank column, in font pixels
FALLBACK = "?"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# ASCII 32 (' ') to 126 ('~'): five column bytes a glyph, bit 0 the top row.
_FONT = bytes.fromhex(
    "000000000000005f00000007000700147f147f14242a7f2a12231308646236495522500005030000"
    "001c2241000041221c0014083e081408083e08080050300000080808080800606000002010080402"
    "3e5149453e00427f400042615149462141454b311814127f1027454545393c4a4949300171090503"
    "3649494936064949291e003636000000563600000814224100141414141400412214080201510906"
    "324979413e7e1111117e7f494949363e414141227f4141221c7f494949417f090909013e4149497a"
    "7f0808087f00417f41002040413f017f081422417f404040407f020c027f7f0408107f3e4141413e"
    "7f090909063e4151215e7f09192946464949493101017f01013f4040403f1f2040201f3f4038403f"
    "631408146307087008076151494543007f41410002040810200041417f0004020102044040404040"
    "000102040020545454787f484444383844444420384444487f3854545418087e0901020c5252523e"
    "7f0804047800447d40002040443d007f1028440000417f40007c041804787c080404783844444438"
    "7c14141408081414187c7c080404084854545420043f4440203c4040207c1c2040201c3c4030403c"
    "44281028440c5050503c4464544c44000836410000007f000000413608000804081008"
)
_FIRST, _LAST = 32, 126


def _runs(columns: bytes) -> tuple[tuple[int, int, int], ...]:
    """A glyph as horizontal runs of lit pixels: (column, row, length)."""
    runs = []
    for row in range(GLYPH_HEIGHT):
        col = 0
        while col < GLYPH_WIDTH:
            if columns[col] >> row & 1:
                start = col
                while col < GLYPH_WIDTH and columns[col] >> row & 1:
                    col += 1
                runs.append((start, row, col - start))
            col += 1
    return tuple(runs)


_GLYPHS = tuple(
    _runs(_FONT[i * GLYPH_WIDTH : (i + 1) * GLYPH_WIDTH]) for i in range(_LAST - _FIRST + 1)
)


def glyph_runs(char: str) -> tuple[tuple[int, int, int], ...]:
    """The runs of `char`, or of '?' for anything outside printable ASCII."""
    code = ord(char)
    if not _FIRST <= code <= _LAST:
        code = ord(FALLBACK)
    return _GLYPHS[code - _FIRST]


def text_width(text: str, scale: int) -> int:
    """Pixels from the left edge of the first glyph to the right edge of the last."""
    return max(0, (len(text) * ADVANCE - 1) * scale)


def hex_color(value: str) -> Color:
    """'#1264a3' as (18, 100, 163)."""
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


class Canvas:
    """An RGB image painted with opaque rectangles, lines, dots and text; clipped to its edges."""

    def __init__(self, width: int, height: int, background: Color = (255, 255, 255)) -> None:
        self.width = width
        self.height = height
        self.pixels = bytearray(bytes(background) * (width * height))

    def rect(self, x: int, y: int, w: int, h: int, color: Color) -> None:
        """Fill the rectangle whose top-left pixel is (x, y)."""
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(self.width, x + w), min(self.height, y + h)
        if x0 >= x1 or y0 >= y1:
            return
        span = bytes(color) * (x1 - x0)
        stride = self.width * 3
        for row in range(y0, y1):
            start = row * stride + x0 * 3
            self.pixels[start : start + len(span)] = span

    def line(self, x0: float, y0: float, x1: float, y1: float, color: Color, width: int) -> None:
        """A straight line about `width` pixels thick, the same thickness at any slope."""
        dx, dy = x1 - x0, y1 - y0
        steps = max(1, round(max(abs(dx), abs(dy))))
        across = max(1, round(width * math.hypot(dx, dy) / max(abs(dx), abs(dy), 1e-9)))
        half = across // 2
        steep = abs(dy) > abs(dx)
        for i in range(steps + 1):
            x = round(x0 + dx * i / steps)
            y = round(y0 + dy * i / steps)
            if steep:
                self.rect(x - half, y, across, 1, color)
            else:
                self.rect(x, y - half, 1, across, color)

    def dashed_hline(
        self, x0: int, x1: int, y: int, color: Color, *, width: int, dash: int, gap: int
    ) -> None:
        """A horizontal dashed line from x0 to x1, centred on row y."""
        for x in range(x0, x1, dash + gap):
            self.rect(x, y - width // 2, min(dash, x1 - x), width, color)

    def dot(self, x: float, y: float, radius: int, color: Color) -> None:
        """A filled disc centred on (x, y)."""
        cx, cy = round(x), round(y)
        for dy in range(-radius, radius + 1):
            half = math.floor(math.sqrt(radius * radius - dy * dy) + 0.5)
            self.rect(cx - half, cy + dy, 2 * half + 1, 1, color)

    def text(
        self, x: int, y: int, text: str, color: Color, *, scale: int, upward: bool = False
    ) -> None:
        """`text` with its top-left corner at (x, y); `upward` reads bottom to top from (x, y)."""
        for i, char in enumerate(text):
            offset = i * ADVANCE
            for col, row, length in glyph_runs(char):
                if upward:
                    top = y - (offset + col + length) * scale
                    self.rect(x + row * scale, top, scale, length * scale, color)
                else:
                    left = x + (offset + col) * scale
                    self.rect(left, y + row * scale, length * scale, scale, color)

    def to_png(self) -> bytes:
        """The image as an 8-bit RGB PNG, every row unfiltered."""
        stride = self.width * 3
        view = memoryview(self.pixels)
        raw = b"".join(
            b"\x00" + view[row * stride : (row + 1) * stride] for row in range(self.height)
        )
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return b"".join(
            (
                PNG_SIGNATURE,
                _chunk(b"IHDR", header),
                _chunk(b"IDAT", zlib.compress(raw, 6)),
                _chunk(b"IEND", b""),
            )
        )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

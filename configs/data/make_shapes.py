"""Generate configs/data/shapes/: a small image folder for the image example — one subfolder per
class (`circle`, `square`, `triangle`), each shape drawn at a random place, size and colour on a
noisy background. `write_shapes` also makes bigger folders (more classes: polygons with more sides)
for tests and the benchmark. Run:

    python configs/data/make_shapes.py      # rewrites configs/data/shapes/ (seeded)
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

NAMES = ("circle", "square", "triangle")


def _shape(draw, kind: int, box: tuple[float, float, float], fill) -> None:
    x, y, r = box
    if kind == 0:
        draw.ellipse([x - r, y - r, x + r, y + r], fill=fill)
        return
    sides = {1: 4, 2: 3}.get(kind, kind + 2)
    turn = math.pi / 4 if sides == 4 else -math.pi / 2
    draw.polygon([(x + r * math.cos(turn + 2 * math.pi * i / sides), y + r * math.sin(turn + 2 * math.pi * i / sides))
                  for i in range(sides)], fill=fill)


def class_names(classes: int) -> list[str]:
    return list(NAMES[:classes]) + [f"polygon{k + 2}" for k in range(len(NAMES), classes)]


def write_shapes(folder: Path, per_class: int = 60, size: int = 32, classes: int = 3, seed: int = 0,
                 suffix: str = ".png") -> list[Path]:
    """`per_class` images of `size`x`size` for each of `classes` classes under folder/<class>/."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    written = []
    for kind, name in enumerate(class_names(classes)):
        (Path(folder) / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            noise = rng.integers(0, 60, size=(size, size, 3), dtype=np.uint8)
            image = Image.fromarray(noise + np.uint8(rng.integers(0, 80)), "RGB")
            r = size * rng.uniform(0.18, 0.32)
            x, y = rng.uniform(r, size - r, size=2)
            fill = tuple(int(v) for v in rng.integers(120, 256, size=3))
            _shape(ImageDraw.Draw(image), kind, (x, y, r), fill)
            path = Path(folder) / name / f"{name}_{i:04d}{suffix}"
            image.save(path, quality=90) if suffix in (".jpg", ".jpeg") else image.save(path)
            written.append(path)
    return written


def main() -> None:
    folder = Path(__file__).resolve().parent / "shapes"
    files = write_shapes(folder)
    print(f"wrote {len(files)} images under {folder}")


if __name__ == "__main__":
    main()

"""Generate configs/data/shapes_backbone.weights.h5: a small MobileNetV2 (alpha 0.35, 48x48 RGB, no top)
pretrained on a larger, related task: 1,200 other generated images of six shapes (circles, squares,
triangles, pentagons, hexagons and heptagons, by make_shapes.write_shapes with another seed), none of
them the images of configs/data/shapes/.
configs/shapes_finetune.yaml starts from it, offline, as it would from ImageNet weights. Run:

    python configs/data/make_backbone.py      # rewrites the file (seeded; a few minutes on a CPU)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "shapes_backbone.weights.h5"
SIZE = 48   # the example resizes the shapes to this (MobileNetV2 halves it five times)


def polygons(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images of the six shapes as raw pixels, and their labels."""
    from PIL import Image

    sys.path.insert(0, str(HERE))
    from make_shapes import class_names, write_shapes

    write_shapes(folder, per_class=200, size=SIZE, classes=6, seed=123)
    names = class_names(6)
    x, y = [], []
    for label, name in enumerate(names):
        for path in sorted((folder / name).glob("*.png")):
            x.append(np.asarray(Image.open(path).convert("RGB"), dtype="float32"))
            y.append(label)
    return np.stack(x), np.asarray(y)


def main() -> None:
    import keras

    keras.utils.set_random_seed(7)
    with tempfile.TemporaryDirectory() as folder:
        x, y = polygons(Path(folder))
    order = np.random.default_rng(7).permutation(len(y))
    x, y = x[order], y[order]
    base = keras.applications.MobileNetV2(input_shape=(SIZE, SIZE, 3), alpha=0.35, include_top=False, weights=None,
                                          pooling="avg")
    for layer in base.layers:  # moving statistics that settle within this short training (Keras: 0.999)
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9
    inputs = keras.Input((SIZE, SIZE, 3))
    scaled = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)  # MobileNetV2's own preprocessing
    outputs = keras.layers.Dense(int(y.max()) + 1, activation="softmax")(base(scaled))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.003), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=25, batch_size=32, validation_split=0.2, verbose=2)
    base.save_weights(OUT)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()

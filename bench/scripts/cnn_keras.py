"""Hand-written baseline for bench/gpu.py's image case: N x 32 x 32 x 3 arrays from an NPZ file, the
same 60/20/20 stratified split as dlrun's, per-pixel standard scaling from the training part, a small
CNN, NumPy arrays straight into model.fit. Prints {"accuracy", "seconds", "fit_seconds", "train_rows"}.

    python cnn_keras.py IMAGES.npz BATCH EPOCHS [mixed]
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
start = time.time()
import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

path, batch, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if len(sys.argv) > 4 and sys.argv[4] == "mixed":
    keras.mixed_precision.set_global_policy("mixed_float16")
with np.load(path) as data:
    x, y = data["x"].astype("float32"), data["y"]
keras.utils.set_random_seed(0)
x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=round(len(x) * 0.2), stratify=y_rest,
                                                  random_state=1)
mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-7
x_train, x_val, x_test = ((a - mean) / std for a in (x_train, x_val, x_test))
classes = int(y.max()) + 1
model = keras.Sequential([keras.Input(x.shape[1:]),
                          keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(2),
                          keras.layers.Conv2D(64, 3, activation="relu"), keras.layers.MaxPooling2D(2),
                          keras.layers.Flatten(), keras.layers.Dense(128, activation="relu"),
                          keras.layers.Dense(classes, activation="softmax", dtype="float32")])
model.compile(optimizer=keras.optimizers.Adam(0.001), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
fit_start = time.time()
model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=epochs, batch_size=batch, verbose=0)
fit_seconds = time.time() - fit_start
accuracy = model.evaluate(x_test, y_test, verbose=0, batch_size=1024)[1]
print(json.dumps({"accuracy": float(accuracy), "seconds": time.time() - start, "fit_seconds": fit_seconds,
                  "train_rows": len(x_train)}))

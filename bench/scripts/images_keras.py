"""Hand-written baseline for bench/configs/images.yaml: Keras's image_dataset_from_directory with an
80/20 split, pixels / 255 in the model, the same CNN, Adam 3e-3, 5 epochs, batch 32, prefetching.
Prints one JSON line: {"accuracy": ..., "seconds": ..., "fit_seconds": ...}."""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
start = time.time()
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

folder = sys.argv[1]
keras.utils.set_random_seed(0)
train, val = keras.utils.image_dataset_from_directory(folder, validation_split=0.2, subset="both", seed=0,
                                                      image_size=(64, 64), batch_size=32)
train, val = train.prefetch(tf.data.AUTOTUNE), val.prefetch(tf.data.AUTOTUNE)
model = keras.Sequential([keras.Input((64, 64, 3)), keras.layers.Rescaling(1 / 255),
                          keras.layers.Conv2D(16, 3, activation="relu"), keras.layers.MaxPooling2D(2),
                          keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(2),
                          keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer=keras.optimizers.Adam(0.003), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
fit_start = time.time()
model.fit(train, validation_data=val, epochs=5, verbose=0)
fit_seconds = time.time() - fit_start
accuracy = model.evaluate(val, verbose=0)[1]
print(json.dumps({"accuracy": float(accuracy), "seconds": time.time() - start, "fit_seconds": fit_seconds,
                  "train_rows": 1600}))

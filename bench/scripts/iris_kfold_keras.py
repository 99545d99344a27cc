"""Hand-written baseline: the seeds' iris exercise — 10-fold stratified CV, Dense(8) → softmax,
100 epochs, batch 5, NumPy arrays straight into model.fit (no tf.data), as a user writes it.
Prints one JSON line: {"accuracy_mean": ..., "accuracy_std": ..., "seconds": ...}."""

import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
start = time.time()
import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

x, y = load_iris(return_X_y=True)
keras.utils.set_random_seed(7)
scores = []
for train, test in StratifiedKFold(n_splits=10, shuffle=True, random_state=7).split(x, y):
    scaler = StandardScaler().fit(x[train])
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(scaler.transform(x[train]), y[train], epochs=100, batch_size=5, verbose=0)
    scores.append(model.evaluate(scaler.transform(x[test]), y[test], verbose=0)[1])
print(json.dumps({"accuracy_mean": float(np.mean(scores)), "accuracy_std": float(np.std(scores, ddof=1)),
                  "seconds": time.time() - start}))

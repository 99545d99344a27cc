"""Hand-written baseline for bench/configs/synthetic.yaml: 200,000 x 50 generated rows, the
same 60/20/20 split, standard scaling on the training part, MLP 256-256, 3 epochs, batch 256,
NumPy arrays straight into model.fit. Prints {"accuracy", "seconds", "fit_seconds", "train_rows"}.

    python synthetic_keras.py DATA.npz [BATCH [EPOCHS]]     # bench/gpu.py: batch 1024"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
start = time.time()
import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

batch = int(sys.argv[2]) if len(sys.argv) > 2 else 256
epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
with np.load(sys.argv[1]) as data:
    x, y = data["x"], data["y"]
keras.utils.set_random_seed(0)
x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=round(len(x) * 0.2), stratify=y_rest,
                                                  random_state=1)
scaler = StandardScaler().fit(x_train)
x_train, x_val, x_test = (scaler.transform(a).astype("float32") for a in (x_train, x_val, x_test))
model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(256, activation="relu"),
                          keras.layers.Dense(256, activation="relu"), keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(0.001), loss="binary_crossentropy", metrics=["accuracy"])
fit_start = time.time()
model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=epochs, batch_size=batch, verbose=0)
fit_seconds = time.time() - fit_start
accuracy = model.evaluate(x_test, y_test, verbose=0, batch_size=1024)[1]
print(json.dumps({"accuracy": float(accuracy), "seconds": time.time() - start, "fit_seconds": fit_seconds,
                  "train_rows": len(x_train)}))

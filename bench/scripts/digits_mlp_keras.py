"""Hand-written baseline for configs/digits_mlp.yaml: the same split (60/20/20, stratified),
scaling fitted on the training part, Dense(64, L2) → Dropout → softmax, Adam 1e-3, 30 epochs,
batch 32, early stopping and a best checkpoint, NumPy arrays straight into model.fit.
Prints one JSON line: {"accuracy": ..., "seconds": ..., "fit_seconds": ...}."""

import json
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
start = time.time()
import keras  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

x, y = load_digits(return_X_y=True)
keras.utils.set_random_seed(42)
x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=42)
x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=round(len(x) * 0.2), stratify=y_rest,
                                                  random_state=43)
scaler = StandardScaler().fit(x_train)
x_train, x_val, x_test = (scaler.transform(a) for a in (x_train, x_val, x_test))
model = keras.Sequential([keras.Input((64,)),
                          keras.layers.Dense(64, activation="relu", kernel_regularizer=keras.regularizers.L2(0.001)),
                          keras.layers.Dropout(0.3), keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer=keras.optimizers.Adam(0.001), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
folder = tempfile.mkdtemp()
callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True),
             keras.callbacks.ModelCheckpoint(os.path.join(folder, "best.keras"), monitor="val_accuracy",
                                             save_best_only=True)]
fit_start = time.time()
model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=30, batch_size=32, callbacks=callbacks, verbose=0)
fit_seconds = time.time() - fit_start
model.save(os.path.join(folder, "model.keras"))
accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
print(json.dumps({"accuracy": float(accuracy), "seconds": time.time() - start, "fit_seconds": fit_seconds}))

"""Texts to numbers with Keras's `TextVectorization`: adapted on the training texts only; what it
learned (vocabulary, and inverse document frequencies for tf_idf) is kept as JSON and rebuilt, never
refitted, for validation, test and new texts."""

from __future__ import annotations

import numpy as np

MODES = {"sequence": "int", "multi_hot": "multi_hot", "tf_idf": "tf_idf"}
DEFAULT_WORDS = 5000


def _tensorflow_probe_again() -> None:
    """Seeding on JAX hides TensorFlow from Keras for a moment (model/backend.py, so that a JAX run
    never loads it), and Keras remembers the failed probe for the whole process; TextVectorization
    needs TensorFlow, so its probe runs again here, where TensorFlow is wanted."""
    from keras.src.utils import module_utils

    lazy = getattr(module_utils, "tensorflow", None)
    if lazy is not None and getattr(lazy, "module", None) is None:
        lazy._available = None


def vectorizer(recipe: dict, vocabulary=None, idf=None):
    """The TextVectorization layer of a recipe (with its learned vocabulary and idf, once adapted)."""
    _tensorflow_probe_again()
    import keras  # the caller has chosen the backend and imported Keras quietly (stages, SavedRun.use_backend)

    extra = {"output_sequence_length": recipe["sequence_length"]} if recipe["vectorize"] == "sequence" else {}
    return keras.layers.TextVectorization(max_tokens=recipe["max_tokens"], output_mode=MODES[recipe["vectorize"]],
                                          vocabulary=vocabulary, idf_weights=idf, **extra)


def adapt(texts: np.ndarray, vectorize: str, num_words: int | None, maxlen: int) -> dict:
    """The recipe learned from the training texts: vocabulary (most frequent first) and idf weights."""
    recipe = {"vectorize": vectorize, "max_tokens": num_words or DEFAULT_WORDS, "sequence_length": maxlen}
    import tensorflow as tf

    layer = vectorizer(recipe)
    # variable-length strings (a NumPy str array would pad every text to the longest one)
    layer.adapt(tf.data.Dataset.from_tensor_slices(tf.constant([str(t) for t in texts], tf.string)).batch(512))
    recipe["vocabulary"] = [str(word) for word in layer.get_vocabulary()]
    if vectorize == "tf_idf":  # the lookup layer holds them; TextVectorization has no public getter
        recipe["idf"] = np.asarray(layer._lookup_layer.idf_weights, dtype=np.float64).tolist()
    return recipe


def vectorized(texts: np.ndarray, recipe: dict, batch: int = 2048) -> np.ndarray:
    """The texts as word-id sequences (rows, sequence_length) or vectors (rows, vocabulary size)."""
    import tensorflow as tf

    layer = vectorizer(recipe, recipe["vocabulary"], recipe.get("idf"))
    texts = [str(t) for t in texts]
    parts = [np.asarray(layer(tf.constant(texts[start:start + batch], tf.string)))
             for start in range(0, len(texts), batch)]
    width = recipe["sequence_length"] if recipe["vectorize"] == "sequence" else len(recipe["vocabulary"])
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, width), np.float32)

"""Model: output-head checks per task (no TensorFlow) and the Keras builders."""

"""Run directories: unique ids, atomic artifact writes, provenance. No TensorFlow here."""

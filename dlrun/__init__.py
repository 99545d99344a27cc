"""dlrun: describe a Keras experiment in one YAML file, run it with one command."""

__version__ = "0.1.0"

from dlrun import process_exit as _process_exit  # noqa: E402,F401  (first exit handler: runs last)

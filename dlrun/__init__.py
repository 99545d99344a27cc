"""dlrun: describe a Keras experiment in one YAML file, run it with one command."""

__version__ = "0.1.0"

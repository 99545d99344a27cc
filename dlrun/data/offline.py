"""Whether a spec's data can be read on this machine without a network: a `keras:` dataset is read
from the Keras cache, and downloaded only when it is not there (data/keras_sources.py). `dlrun smoke`
asks this before it runs a spec, so a download that cannot happen offline is told apart from breakage.
Nothing here imports TensorFlow."""

from __future__ import annotations

from dlrun.data.keras_sources import CACHE_FILES, keras_cache_dir
from dlrun.spec.models import DataSpec


def needs_download(data: DataSpec) -> str | None:
    """Why the source needs the network (a keras: dataset missing from the Keras cache), or None.

    Example:
        >>> from dlrun.spec.models import DataSpec
        >>> needs_download(DataSpec(source="sklearn:iris")) is None
        True
    """
    if data.scheme != "keras":
        return None
    cached = keras_cache_dir() / CACHE_FILES[data.location]
    if cached.exists():
        return None
    return (f"{data.source} needs a download: {CACHE_FILES[data.location]} is not in the Keras cache "
            f"({keras_cache_dir()}); put it there (or point KERAS_HOME at a folder whose datasets/ holds it)")

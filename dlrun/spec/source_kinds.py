"""What each kind of data source is, in one table: the spec's checks ask this table, never the
scheme's name. (The data itself is told apart once more, when read, by data/feature_data.py.)

Example:
    >>> SOURCES["images"].folder_of_files, SOURCES["csv"].streamable
    (True, True)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceKind:
    """One `data.source` scheme and what it allows."""

    scheme: str
    folder_of_files: bool = False      # one file per row in class subfolders: no columns to group or pick
    streamable: bool = False           # data.streaming: read chunk by chunk
    backends: tuple[str, ...] = ("tensorflow", "jax")   # backends that can be fed from it
    read_with_keras: bool = False      # reading it imports TensorFlow / Keras
    texts: bool = False                # rows are texts: tf_idf vectorizing applies
    needs: tuple[str, str] | None = None   # (module, how to install it) it is read with
    whole_note: str = "whole"          # how it is read when not streamed (for messages)
    windowed: bool = False             # data.window: a time-ordered table that windows are made from


SOURCES: dict[str, SourceKind] = {kind.scheme: kind for kind in (
    SourceKind("sklearn"),
    SourceKind("csv", streamable=True, windowed=True),
    SourceKind("parquet", streamable=True, windowed=True, needs=("pyarrow", 'pip install "dlrun[parquet]"')),
    SourceKind("npz"),
    SourceKind("images", folder_of_files=True, backends=("tensorflow",), read_with_keras=True,
               whole_note="file by file already"),
    SourceKind("text", folder_of_files=True, read_with_keras=True, texts=True,
               needs=("tensorflow", "pip install tensorflow"), whole_note="file by file already"),
    SourceKind("keras"),
)}
SOURCE_SCHEMES = tuple(SOURCES)

"""A streamed CSV chunk's bytes → its rows, exactly as `pd.read_csv` reads them (the header's names, the
wanted columns in the file's order, categorical columns as text): parsed by pyarrow's multithreaded CSV
reader where pyarrow is installed (the parquet extra), else by pandas.

Arrow is given pandas's rules (its missing-value words, its true/false words, no dates or times) and its
result is used only where it is pandas's own: every column Arrow typed as an integer, a float, a boolean
without gaps or a text that pandas too would keep as text. Anything else — a parse error (a row with too
few or too many fields, bad UTF-8), a date, a column of text with numbers among it, a number beyond int64,
hexadecimal digits — is read again by pandas, so the rows, dtypes, values and errors are pandas's in
every case. Where Arrow parsed a chunk, every line had the header's number of fields (pandas pads a
short row with empty cells and has to be checked afterwards).
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from dlrun.spec.backends import installed

ARROW = installed("pyarrow")  # tests and bench/parse_rate.py switch it off to compare with pandas alone
TRUE, FALSE = ["True", "TRUE", "true"], ["False", "FALSE", "false"]  # the words pandas reads as booleans
try:
    from pandas._libs.parsers import STR_NA_VALUES as _MISSING
except ImportError:  # pandas's documented default missing-value words
    _MISSING = {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>",
                "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
MISSING = sorted(_MISSING)
LARGEST = 2.0 ** 63  # beyond int64 pandas reads integers as uint64 or text, Arrow as floats


def parse_chunk(data: bytes, header: list[str], columns: list[str], text_columns: list[str],
                delimiter: str) -> tuple[pd.DataFrame, bool]:
    """(the chunk's rows of `columns`, whether every line was seen to have the header's number of fields).

    Example:
        >>> frame, counted = parse_chunk(b'1,"a,b",NA\\n2,c,3.5\\n', ["n", "t", "x"], ["n", "t", "x"], ["t"], ",")
        >>> frame.to_dict("list"), str(frame["x"].dtype)
        ({'n': [1, 2], 't': ['a,b', 'c'], 'x': [nan, 3.5]}, 'float64')
    """
    frame = _arrow(data, header, columns, text_columns, delimiter) if ARROW else None
    if ARROW:  # mimalloc keeps the pages Arrow's threads freed until they allocate again: 60 MB held, unused
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    if frame is not None:
        return frame, True
    return pd.read_csv(io.BytesIO(data), header=None, names=header, usecols=columns, sep=delimiter,
                       dtype={c: str for c in text_columns if c in columns}), False


def _arrow(data: bytes, header: list[str], columns: list[str], text_columns: list[str], delimiter: str):
    """The chunk by Arrow, or None where pandas must read it (see the module's docstring)."""
    import pyarrow as pa
    import pyarrow.csv as csv

    if not data or len(delimiter) != 1 or len(header) < 2 or len(set(header)) != len(header) \
            or not set(columns) <= set(header):  # one column: pandas skips a line of spaces, Arrow reads it
        return None
    wanted = [c for c in header if c in set(columns)]  # pandas's usecols keeps the file's order
    text = {c for c in text_columns if c in wanted}
    try:
        table = csv.read_csv(pa.py_buffer(data), read_options=csv.ReadOptions(column_names=header),
                             parse_options=csv.ParseOptions(delimiter=delimiter),
                             convert_options=csv.ConvertOptions(
                                 include_columns=wanted, column_types={c: pa.string() for c in text},
                                 null_values=MISSING, strings_can_be_null=True, true_values=TRUE,
                                 false_values=FALSE, timestamp_parsers=[]))
    except (pa.ArrowException, ValueError):  # the rows pandas reads, or the error it raises, are pandas's to say
        return None
    marks = {"+"} if b"+" in data else set()  # one byte is a fast search; "0x" only where it can matter
    if any(pa.types.is_int64(table.column(c).type) for c in wanted) and (b"x" in data or b"X" in data) \
            and (b"0x" in data or b"0X" in data):
        marks.add("0x")
    if not all(_as_pandas_reads(table.column(c), c in text, marks) for c in wanted):
        return None
    frame = table.to_pandas()
    for name in wanted:
        if pa.types.is_null(table.column(name).type):  # every cell empty: pandas's column of NaN
            frame[name] = np.full(len(frame), np.nan)
    return frame


def _as_pandas_reads(column, text: bool, marks: set[str]) -> bool:
    """Whether Arrow's column is the one pandas makes of the same cells (`marks`: "+", "0x" where the chunk
    holds them)."""
    import pyarrow as pa

    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        # text pandas would keep as text: every value, if it is not a forced text column, is no number
        return text or not pd.to_numeric(column.unique().to_pandas(), errors="coerce").notna().any()
    if pa.types.is_int64(kind):
        return "0x" not in marks  # Arrow reads 0x10 as 16, pandas as text
    if pa.types.is_float64(kind):
        values = column.to_numpy()  # a gap is NaN here
        if "+" in marks and not column.null_count and np.array_equal(values, np.trunc(values)):
            return False  # +3 is an integer to pandas, a float to Arrow
        # an integer beyond int64 is uint64 or text to pandas, with or without gaps; an infinity a float to both
        return -LARGEST < np.fmin.reduce(values, initial=np.inf) and np.fmax.reduce(values, initial=-np.inf) < LARGEST \
            or not np.any(np.abs(values[np.isfinite(values)]) >= LARGEST)
    return pa.types.is_null(kind) or (pa.types.is_boolean(kind) and not column.null_count)

"""Tiny finished runs for the inference tests (iris, a binary CSV, a regression CSV), from the
session's `trained_run`: each module gets its own copies, so evaluations written by one module
never show up in another."""

from __future__ import annotations

import pytest

from tests.inference.samples import BINARY, REGRESSION, houses_csv, pets_frame
from tests.support import TINY_IRIS


@pytest.fixture(scope="module")
def iris(trained_run):
    return trained_run(TINY_IRIS)


@pytest.fixture(scope="module")
def binary(trained_run):
    return trained_run(BINARY, files={"pets.csv": pets_frame().to_csv(index=False)})


@pytest.fixture(scope="module")
def regression(trained_run):
    return trained_run(REGRESSION, files={"houses.csv": houses_csv()})

"""Doctest set-up for the docstrings in bayescale/: their examples may use ``fit``, a small
fit of Chinchilla's law on the shipped runs (what ``bs.ChinchillaLaw().fit(load_chinchilla(
replication_subset=True), draws=300, tune=300, chains=2, seed=1)`` returns), made once per
session and only when a docstring uses it."""

from __future__ import annotations

import re
import warnings

import pytest


@pytest.fixture(scope="session")
def _doctest_fit():
    import bayescale as bs
    from bayescale.datasets import load_chinchilla

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bs.ChinchillaLaw().fit(
            load_chinchilla(replication_subset=True), draws=300, tune=300, chains=2, seed=1
        )


@pytest.fixture(autouse=True)
def _doctest_names(request, doctest_namespace):
    item = request.node
    if isinstance(item, pytest.DoctestItem) and any(
        re.search(r"\bfit\b", example.source) for example in item.dtest.examples
    ):  # only examples that use the name (a docstring that merely says "fit" samples nothing)
        doctest_namespace["fit"] = request.getfixturevalue("_doctest_fit")
        doctest_namespace["bs"] = __import__("bayescale")

"""The examples in the engines' docstrings run, so the documentation cannot drift from the code."""
import doctest
import importlib
import pkgutil

import pytest

PACKAGES = ("aggregation", "ml")
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def module_names(package: str) -> list[str]:
    root = importlib.import_module(package)
    names = [package] + [m.name for m in pkgutil.walk_packages(root.__path__, prefix=f"{package}.")]
    return [n for n in names if not n.endswith("__main__")]  # importing __main__ would run the command line


@pytest.mark.parametrize("name", [n for p in PACKAGES for n in module_names(p)])
def test_every_docstring_example_in_the_engines_runs(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=FLAGS, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_the_engines_keep_their_docstring_examples():
    attempted = sum(doctest.testmod(importlib.import_module(n), optionflags=FLAGS).attempted
                    for p in PACKAGES for n in module_names(p))
    assert attempted >= 8

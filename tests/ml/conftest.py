"""Shared fixtures: a tiny synthetic survey (24 galaxies, 32 px) and the demo tree."""
from __future__ import annotations

import pytest
import torch

from aggregation.schema import TaskTree, galaxy_zoo_tree
from ml.synth import synth_survey


@pytest.fixture(autouse=True)
def _one_thread():
    # The test machine is shared: one thread keeps every test predictable.
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tree() -> TaskTree:
    return galaxy_zoo_tree()


@pytest.fixture(scope="session")
def survey(tmp_path_factory):
    folder = tmp_path_factory.mktemp("survey")
    manifest = synth_survey(24, folder, seed=3, size=32, progress=False)
    return folder, manifest

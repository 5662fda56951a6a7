"""Shared helpers for the ml benchmarks: cached synthetic surveys, votes and result files.

Everything lands in ``benchmarks/ml/results/`` (ignored by git); the numbers that
matter are copied by hand into ``docs/BENCHMARKS.md`` with the command used.
"""
from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import pandas as pd
import torch

from aggregation.schema import TaskTree, galaxy_zoo_tree
from ml.synth import synth_survey

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"
DATA = Path(__file__).resolve().parents[3] / "shared" / "data"  # shared/ sits beside the checkout


def demo_tree() -> TaskTree:
    return galaxy_zoo_tree()


def survey(name: str, n: int, seed: int, size: int = 64) -> tuple[Path, pd.DataFrame]:
    """A cached synthetic survey ``results/data/<name>`` (rendered once)."""
    folder = RESULTS / "data" / name
    manifest_path = folder / "manifest.csv"
    if manifest_path.is_file():
        manifest = pd.read_csv(manifest_path, dtype={"id": str}, keep_default_na=False)
        if len(manifest) == n:
            return folder, manifest
    return folder, synth_survey(n, folder, seed=seed, size=size, progress=True)


def write_result(name: str, payload: dict) -> Path:
    """Save ``payload`` plus the machine description as ``results/<name>.json`` and print it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {**payload, "machine": machine(), "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=float))
    print(json.dumps(payload, indent=2, default=float))
    return path


def machine() -> dict:
    return {"cpu": platform.processor() or platform.machine(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "cuda": torch.cuda.is_available()}

"""CPU throughput: synthetic rendering, classifier and detector training and prediction.

Usage (from the repository root)::

    nice -n 10 .venv/bin/python -m benchmarks.ml.bench_throughput --threads 1

Random 64 x 64 images; timings after one warm-up batch; a shared machine's
numbers vary with the other processes on it (reported alongside).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.ml.common import demo_tree, write_result
from ml.classifier import ClassifierConfig, TreeEnsemble
from ml.detector import DetectorConfig, build_detector
from ml.synth import synth_survey


def _rate(fn, n_images: int, repeats: int) -> float:
    fn()  # warm-up: first calls allocate and pick kernels
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return n_images * repeats / (time.perf_counter() - start)


def classifier_rates(batch: int, repeats: int) -> dict:
    model = TreeEnsemble(ClassifierConfig(n_ensemble=1), demo_tree())
    opt = torch.optim.AdamW(model.parameters())
    x = torch.rand(batch, 3, 64, 64)

    def step():
        loss = model(x).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    train = _rate(step, batch, repeats)
    model.eval()
    with torch.no_grad():
        forward = _rate(lambda: model(x), batch, repeats)
    return {"train_images_per_s_per_member": train, "forward_images_per_s_per_member": forward,
            "predict_images_per_s_default": forward / (8 * 2),  # 8 views x 2 members
            "batch": batch}


def detector_rates(batch: int, repeats: int) -> dict:
    model = build_detector(DetectorConfig(backbone="scratch"))
    opt = torch.optim.AdamW(model.parameters())
    images = [torch.rand(3, 64, 64) for _ in range(batch)]
    targets = [{"boxes": torch.tensor([[20.0, 20.0, 25.0, 25.0], [40.0, 30.0, 45.0, 35.0]]),
                "labels": torch.tensor([1, 1])} for _ in range(batch)]

    def step():
        model.train()
        loss = sum(model(images, targets).values())
        opt.zero_grad()
        loss.backward()
        opt.step()

    train = _rate(step, batch, repeats)
    model.eval()
    with torch.no_grad():
        detect = _rate(lambda: model(images), batch, repeats)
    return {"train_images_per_s": train, "detect_images_per_s": detect, "batch": batch}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--synth-n", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        synth_survey(20, Path(tmp), seed=9, progress=False)  # warm GalSim's caches
        start = time.perf_counter()
        synth_survey(args.synth_n, Path(tmp), seed=1, progress=False)
        synth_ms = 1000 * (time.perf_counter() - start) / args.synth_n
    write_result(f"throughput_threads{args.threads}", {
        "args": vars(args), "load_average_before": os.getloadavg(), "synth_ms_per_galaxy_64px": synth_ms,
        "classifier": classifier_rates(64, args.repeats), "detector": detector_rates(8, args.repeats),
        "load_average_after": os.getloadavg()})


if __name__ == "__main__":
    main()

"""Shared pieces of the #13 benchmarks: the GZ1 split, cached crops, encoders and result files.

Split (seed 13): half of each of elliptical, spiral (both windings), edge-on and "don't know"
(``encoder_train``) trains the ``gz1`` encoder on the Galaxy Zoo tree: it never sees a merger, so
mergers are a class new to it (the anomaly and new-question benchmarks use every other galaxy).
Half of the mergers (``merger_train``) join ``encoder_train`` to train ``gz1_classes`` on GZ1's own
one-question tree (its six classes), the encoder a GZ1 project's serving classifier would have;
the rest (``heldout``, half of every class) is where similarity is measured. Images are centre
crops of half the side (the galaxy fills the frame as in the synthetic images), 64 px.
"""
from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"
DATA = ROOT.parent / "shared" / "data"
GZ1 = DATA / "gz1_sdss_subset"
SEED = 13
SIZE = 64  # cached crops
ENCODER_SIZE = 48  # what the benchmark encoders are trained on (the load of a shared 2-core machine)
# GZ1 classes on the Galaxy Zoo tree the encoder is trained on (merger is not in it: see the module doc).
GZ1_TREE = {"elliptical": ("smooth", "", ""), "spiral_clockwise": ("featured", "no", "spiral"),
            "spiral_anticlockwise": ("featured", "no", "spiral"), "edge_on": ("featured", "yes", ""),
            "dont_know": ("artifact", "", "")}
# The classes the similarity goal names: the two windings are mirror images, so one class.
SIMILARITY_CLASS = {"elliptical": "elliptical", "spiral_clockwise": "spiral", "spiral_anticlockwise": "spiral",
                    "edge_on": "edge_on", "merger": "merger", "dont_know": "dont_know"}


def gz1_table() -> pd.DataFrame:
    """labels.csv with ``file`` (cached 64-px crop), ``cls`` (similarity class) and ``split``."""
    labels = pd.read_csv(GZ1 / "labels.csv")
    folder = RESULTS / "data" / "gz1_crop64"
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for name in labels["image"]:
        target = folder / (Path(name).stem + ".png")
        if not target.is_file():
            with Image.open(GZ1 / name) as im:
                w, h = im.size
                crop = im.convert("RGB").crop((w // 4, h // 4, w - w // 4, h - h // 4))
                crop.resize((SIZE, SIZE), Image.BILINEAR).save(target)
        files.append(target)
    labels["file"] = files
    labels["cls"] = labels.gz1_class_name.map(SIMILARITY_CLASS)
    rng = np.random.default_rng(SEED)
    split = np.full(len(labels), "heldout", dtype=object)
    for name in (*GZ1_TREE, "merger"):
        idx = np.flatnonzero(labels.gz1_class_name.to_numpy() == name)
        split[rng.permutation(idx)[: len(idx) // 2]] = "merger_train" if name == "merger" else "encoder_train"
    labels["split"] = split
    return labels


def load_uint8(files) -> torch.Tensor:
    """``(N, 3, 64, 64)`` uint8 images."""
    from ml.data import load_images

    return load_images(list(files), SIZE)[0]


def write_result(name: str, payload: dict) -> Path:
    """Save ``payload`` with the machine and its load as ``results/<name>.json`` and print it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    import os

    payload = {**payload, "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                                      "load_avg_1m": os.getloadavg()[0], "torch_threads": torch.get_num_threads()},
               "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=float))
    print(json.dumps(payload, indent=2, default=float))
    return path


def embeddings(name: str, files) -> np.ndarray:
    """``(N, D)`` unit embeddings of ``files`` by one of the compared representations.

    ``gz1``, ``gz1_classes`` and ``synthetic``: the trained encoders' (results/models/<name>/best.pt);
    ``untrained``: a freshly initialised small_cnn (seed 0); ``imagenet``: EfficientNet-Lite0 with its
    ImageNet weights, frozen; ``pixels``: the 16 x 16 RGB image itself, centred.
    """
    from ml.represent.embed import embed_tensor, encoders_from_checkpoint
    from ml.represent.index import normalise_rows

    if name == "pixels":
        x = torch.nn.functional.interpolate(load_uint8(files).float(), size=16, mode="area").flatten(1).numpy()
        return normalise_rows(x - x.mean(axis=1, keepdims=True))
    if name in ("untrained", "imagenet"):
        from ml.registry import build_encoder

        torch.manual_seed(0)
        encoder = "small_cnn" if name == "untrained" else "efficientnet_lite0"
        encoders, size = [build_encoder(encoder).eval()], (ENCODER_SIZE if name == "untrained" else SIZE)
    else:
        encoders, size = encoders_from_checkpoint(RESULTS / "models" / name / "best.pt")
    images = torch.nn.functional.interpolate(load_uint8(files).float(), size=size, mode="bilinear",
                                             antialias=True).round().clamp(0, 255).to(torch.uint8)
    return embed_tensor(encoders, images, views=8)

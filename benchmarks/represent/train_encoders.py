"""Train the benchmark encoders: synthetic-only, then fine-tuned on the GZ1 encoder-train split.

Usage::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python -m benchmarks.represent.train_encoders

Writes ``results/models/synthetic/best.pt`` (2,000 synthetic galaxies, 10 simulated volunteers of
accuracy 0.8) and ``results/models/gz1/best.pt`` (warm-started from it; one vote per GZ1 galaxy
of the encoder-train split on the Galaxy Zoo tree, mergers excluded). Budgets are optimizer steps;
the encoder sees 48-px images, batch 32, one member: what two shared cores train in ~20 minutes.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

from aggregation.schema import TaskTree, galaxy_zoo_tree
from benchmarks.represent.common import ENCODER_SIZE, GZ1_TREE, RESULTS, SIZE, gz1_table, write_result

GZ1_CLASSES = ["elliptical", "spiral_clockwise", "spiral_anticlockwise", "edge_on", "dont_know", "merger"]
from ml.classifier import ClassifierConfig, train_classifier
from ml.synth import simulate_votes, synth_survey


def gz1_votes(table, tree) -> dict[str, np.ndarray]:
    """One vote per galaxy for each question GZ1 answers (T0, T2 and T4 where reached)."""
    mapped = table.gz1_class_name.map(GZ1_TREE)
    truth = pd.DataFrame({"truth_T0": [m[0] for m in mapped], "truth_T2": [m[1] for m in mapped],
                          "truth_T4": [m[2] for m in mapped]})
    votes = simulate_votes(truth, tree, n_volunteers=1, accuracy=1.0)
    for key in ("T1", "T3"):
        votes[key][:] = 0
    votes["T4"][(truth["truth_T4"] == "").to_numpy()] = 0
    return votes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-synthetic", type=int, default=2000)
    parser.add_argument("--synthetic-steps", type=int, default=150)
    parser.add_argument("--gz1-steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--classes-steps", type=int, default=400)
    parser.add_argument("--classes-size", type=int, default=48)
    parser.add_argument("--classes-encoder", default="small_cnn", help="a key of ml.registry.MODELS")
    parser.add_argument("--classes-lr", type=float, default=1e-3)
    parser.add_argument("--classes-name", default="gz1_classes", help="results/models/<name>")
    parser.add_argument("--only-classes", action="store_true", help="reuse results/models/synthetic")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.only_classes:
        result = train_gz1_classes(args, gz1_table(), RESULTS / "models" / "synthetic" / "best.pt")
        write_result(f"encoders_{args.classes_name}", {"args": vars(args), args.classes_name: result})
        return
    tree = galaxy_zoo_tree()
    folder = RESULTS / "data" / f"synth64_{args.n_synthetic}"
    if (folder / "manifest.csv").is_file():
        manifest = pd.read_csv(folder / "manifest.csv", dtype={"id": str}, keep_default_na=False)
    else:
        manifest = synth_survey(args.n_synthetic, folder, seed=300, size=SIZE, progress=True)
    votes = simulate_votes(manifest, tree, n_volunteers=10, accuracy=0.8, seed=1)
    out = {}
    start = time.process_time()
    cfg = ClassifierConfig(steps=args.synthetic_steps, min_steps=1, n_ensemble=1, image_size=ENCODER_SIZE,
                           batch_size=args.batch, out_dir=str(RESULTS / "models" / "synthetic"))
    synth = train_classifier(cfg, images=[folder / f for f in manifest["file"]], vote_counts=votes, tree=tree)
    out["synthetic"] = {"steps": synth["steps"], "cpu_s": time.process_time() - start, "metrics": synth["metrics"]}
    table = gz1_table()
    train = table[(table.split == "encoder_train")].reset_index(drop=True)
    start = time.process_time()
    cfg = ClassifierConfig(steps=args.gz1_steps, finetune_steps=args.gz1_steps, finetune_lr_factor=1.0, n_ensemble=1,
                           image_size=ENCODER_SIZE, batch_size=args.batch,
                           init_checkpoint=str(synth["checkpoint"]), out_dir=str(RESULTS / "models" / "gz1"))
    gz1 = train_classifier(cfg, images=list(train["file"]), vote_counts=gz1_votes(train, tree), tree=tree,
                           val_fraction=0.15)
    out["gz1"] = {"steps": gz1["steps"], "n_train": gz1["n_train"], "cpu_s": time.process_time() - start,
                  "metrics": gz1["metrics"]}
    out["gz1_classes"] = train_gz1_classes(args, table, synth["checkpoint"])
    write_result("encoders", {"args": vars(args), **out})


def gz1_classes_tree() -> TaskTree:
    """GZ1's tree: one question, its six classes (the spiral windings are a mirror pair, see chirality)."""
    answers = [{"label": name, "text": name.replace("_", " "), "next": None} for name in GZ1_CLASSES]
    return TaskTree.from_dict({"first_task": "T0", "tasks": {"T0": {
        "type": "single", "question": "What kind of object is it?", "answers": answers}}})


def train_gz1_classes(args, table, synthetic_checkpoint) -> dict:
    """The synthetic encoder fine-tuned on GZ1's six classes (encoder-train plus merger-train halves)."""
    tree = gz1_classes_tree()
    train = table[table.split.isin(["encoder_train", "merger_train"])].reset_index(drop=True)
    counts = np.zeros((len(train), len(GZ1_CLASSES)))
    counts[np.arange(len(train)), [GZ1_CLASSES.index(c) for c in train.gz1_class_name]] = 1.0
    start = time.process_time()
    # small_cnn starts from the synthetic encoder; an ImageNet-weighted encoder starts from its own weights.
    init = str(synthetic_checkpoint) if args.classes_encoder == "small_cnn" else None
    cfg = ClassifierConfig(steps=args.classes_steps, min_steps=1, finetune_steps=args.classes_steps,
                           finetune_lr_factor=1.0, n_ensemble=1, image_size=args.classes_size, batch_size=args.batch,
                           encoder=args.classes_encoder, lr=args.classes_lr, init_checkpoint=init,
                           out_dir=str(RESULTS / "models" / args.classes_name))
    res = train_classifier(cfg, images=list(train["file"]), vote_counts={"T0": counts}, tree=tree, val_fraction=0.15)
    return {"steps": res["steps"], "n_train": res["n_train"], "cpu_s": time.process_time() - start,
            "metrics": res["metrics"]}


if __name__ == "__main__":
    main()

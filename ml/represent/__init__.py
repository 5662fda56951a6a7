"""What the classifier's learned representation is used for beyond its own questions.

* `embed`: pooled encoder features of images, one unit vector per galaxy;
* `index`: exact cosine nearest neighbours (faiss, or NumPy where that is faster);
* `anomaly`: ranking the galaxies one researcher finds interesting from a few labels (active learning);
* `fewlabel`: a new question learned from few labels on the frozen encoder, with its uncertainty.

The idea is that of Walmsley et al. 2022 (MNRAS 513, 1581, "Practical galaxy morphology tools from
deep supervised representation learning"): a network trained to answer every Galaxy Zoo question
learns features that solve new tasks with few labels.
"""
# Only the index is imported here: it needs NumPy alone, so web processes search without loading torch.
# Import `embed`, `anomaly` and `fewlabel` directly where they are needed.
from ml.represent.index import EmbeddingIndex, normalise_rows  # noqa: F401

__all__ = ["EmbeddingIndex", "normalise_rows"]

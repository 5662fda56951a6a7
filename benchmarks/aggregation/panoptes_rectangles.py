"""Run panoptes_aggregation's rectangle reducer (DBSCAN on x, y, width, height) on the pedestrian boxes.

panoptes-aggregation pins older numpy, pandas and scikit-learn than the project, so it runs in
its own virtual environment, called by ``boxes.py --panoptes-python``:

    python -m venv /tmp/pvenv && /tmp/pvenv/bin/pip install panoptes-aggregation
    /tmp/pvenv/bin/python benchmarks/aggregation/panoptes_rectangles.py BOXES.csv SEEN.csv OUT.csv \
        [EPS MIN_SAMPLES [euclidean|iou]]

"euclidean" is ``rectangle_reducer`` (DBSCAN on x, y, width, height in pixels, the default);
"iou" is ``shape_reducer_dbscan`` with ``metric_type="IoU"`` (distance 1 - IoU, medoid average).

BOXES and SEEN use the project's columns; OUT gets task, x_min, y_min, x_max, y_max, n_workers.
"""
import sys

import pandas as pd
from panoptes_aggregation.reducers.rectangle_reducer import rectangle_reducer
from panoptes_aggregation.reducers.shape_reducer_dbscan import shape_reducer_dbscan


def extract(rows: pd.DataFrame) -> dict:
    """One classification as the rectangle extractor would emit it (top-left x, y, width, height)."""
    if rows.empty:
        return {}
    return {"frame0": {"T0_tool0_x": rows["x_min"].tolist(), "T0_tool0_y": rows["y_min"].tolist(),
                       "T0_tool0_width": (rows["x_max"] - rows["x_min"]).tolist(),
                       "T0_tool0_height": (rows["y_max"] - rows["y_min"]).tolist()}}


def reduce_image(task, views: pd.DataFrame, boxes: pd.DataFrame, eps: float, min_samples: int, metric: str) -> list:
    by_worker = dict(tuple(boxes.groupby("worker")))
    extracts = [extract(by_worker.get(w, boxes.iloc[:0])) for w in views["worker"]]
    users = views["worker"].tolist()
    if metric == "iou":
        reduction = shape_reducer_dbscan(extracts, user_id=users, shape="rectangle", metric_type="IoU", eps=eps,
                                         min_samples=min_samples, estimate_average=True)
    else:
        reduction = rectangle_reducer(extracts, user_id=users, eps=eps, min_samples=min_samples)
    frame = reduction.get("frame0", {})
    out = []
    for x, y, w, h, n in zip(frame.get("T0_tool0_clusters_x", []), frame.get("T0_tool0_clusters_y", []),
                             frame.get("T0_tool0_clusters_width", []), frame.get("T0_tool0_clusters_height", []),
                             frame.get("T0_tool0_clusters_count", [])):
        out.append((task, x, y, x + w, y + h, n))
    return out


def main(argv):
    boxes, seen, out = pd.read_csv(argv[0]), pd.read_csv(argv[1]), argv[2]
    eps = float(argv[3]) if len(argv) > 3 else 5.0
    min_samples = int(argv[4]) if len(argv) > 4 else 3
    metric = argv[5] if len(argv) > 5 else "euclidean"
    by_task = dict(tuple(boxes.groupby("task")))
    rows = []
    for task, views in seen.groupby("task"):
        rows.extend(reduce_image(task, views, by_task.get(task, boxes.iloc[:0]), eps, min_samples, metric))
    columns = ["task", "x_min", "y_min", "x_max", "y_max", "n_workers"]
    pd.DataFrame(rows, columns=columns).to_csv(out, index=False)


if __name__ == "__main__":
    main(sys.argv[1:])

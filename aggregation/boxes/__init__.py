"""Box consensus: the Lean Crowdsourcing model and the majority-clustering baseline."""
from .geometry import cluster_boxes, iou_matrix
from .lean import LeanBoxAggregator, consensus_for_image, consensus_for_images
from .majority import MajorityBoxAggregator

__all__ = ["LeanBoxAggregator", "MajorityBoxAggregator", "cluster_boxes", "consensus_for_image", "consensus_for_images",
           "iou_matrix"]

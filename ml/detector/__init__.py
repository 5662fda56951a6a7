"""The Faster R-CNN clump detector: train on consensus boxes, detect, score completeness and purity."""
from ml.detector.detect import detect, load_detector
from ml.detector.metrics import completeness_purity, match_boxes
from ml.detector.model import DetectorConfig, build_detector
from ml.detector.train import check_training_boxes, train_detector

__all__ = ["DetectorConfig", "build_detector", "check_training_boxes", "completeness_purity", "detect",
           "load_detector", "match_boxes", "train_detector"]

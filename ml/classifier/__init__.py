"""The Zoobot-style decision-tree classifier: train on vote counts, predict fractions with uncertainty."""
from ml.classifier.model import ClassifierConfig, TreeEnsemble, question_slices
from ml.classifier.predict import load_classifier, predict
from ml.classifier.train import stack_vote_counts, train_classifier

__all__ = ["ClassifierConfig", "TreeEnsemble", "load_classifier", "predict", "question_slices",
           "stack_vote_counts", "train_classifier"]

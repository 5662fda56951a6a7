"""The Zoobot-style decision-tree classifier: train on vote counts, predict fractions with uncertainty."""
from ml.classifier.evaluate import evaluate_checkpoint
from ml.classifier.model import ClassifierConfig, TreeEnsemble, question_slices, vote_prior
from ml.classifier.predict import load_classifier, predict
from ml.classifier.train import stack_vote_counts, train_classifier

__all__ = ["ClassifierConfig", "TreeEnsemble", "evaluate_checkpoint", "load_classifier", "predict",
           "question_slices", "stack_vote_counts", "train_classifier", "vote_prior"]

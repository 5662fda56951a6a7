"""One crowd model for every simulation: populations from a crowd file, and a replay of recorded votes.

See :mod:`aggregation.crowd.model` for the model and ``gz2_like.toml`` for a documented crowd file.
"""
from pathlib import Path

from aggregation.crowd.model import Member, answer_draw, answer_probabilities, difficulty_draw, \
    difficulty_from_hardness, member_draw
from aggregation.crowd.replay import Recording, recording_load
from aggregation.crowd.spec import CrowdFileError, CrowdSpec, crowd_from_dict, crowd_load
from aggregation.crowd.votes import crowd_uniform_errors, votes_simulate
from aggregation.crowd.walk import annotations_walk, boxes_draw

CROWD_DIR = Path(__file__).resolve().parent
DEFAULT_CROWD = CROWD_DIR / "gz2_like.toml"
CROWD_FILES = {"gz2_like": DEFAULT_CROWD, "harsh_careless": CROWD_DIR / "harsh_careless.toml",
               "harsh_adversarial": CROWD_DIR / "harsh_adversarial.toml"}

__all__ = ["CROWD_FILES", "DEFAULT_CROWD", "CrowdFileError", "CrowdSpec", "Member", "Recording",
           "annotations_walk", "answer_draw", "answer_probabilities", "boxes_draw", "crowd_from_dict",
           "crowd_load", "crowd_uniform_errors", "difficulty_draw", "difficulty_from_hardness", "member_draw",
           "recording_load", "votes_simulate"]

"""The platform's tables, one module per concern. Models hold only row-local logic; writes go through zooapp.services."""
from zooapp.models.projects import Project, Membership, Workflow, WorkflowVersion, default_rules  # noqa: F401
from zooapp.models.subjects import SubjectSet, Subject, SubjectFrame, GoldAnswer, SubjectTruth  # noqa: F401
from zooapp.models.crowd import Volunteer, Classification, Reliability, Favourite, SubjectView  # noqa: F401
from zooapp.models.engine import SubjectPosterior, ConsensusBox, Retirement, RuleChange  # noqa: F401
from zooapp.models.machine import ModelVersion, Prediction  # noqa: F401
from zooapp.models.exports import Export  # noqa: F401
from zooapp.models.tags import SubjectTag, TagModeration  # noqa: F401
from zooapp.models.embeddings import SubjectEmbedding, AnomalySession, AnomalyLabel, NewQuestion, QuestionLabel, QuestionHead, QuestionPrediction  # noqa: F401

__all__ = ['Project', 'Membership', 'Workflow', 'WorkflowVersion', 'default_rules', 'SubjectSet', 'Subject', 'SubjectFrame', 'GoldAnswer', 'SubjectTruth', 'Volunteer', 'Classification', 'Reliability', 'Favourite', 'SubjectView', 'SubjectPosterior', 'ConsensusBox', 'Retirement', 'RuleChange', 'ModelVersion', 'Prediction', 'Export', 'SubjectTag', 'TagModeration', 'SubjectEmbedding', 'AnomalySession', 'AnomalyLabel', 'NewQuestion', 'QuestionLabel', 'QuestionHead', 'QuestionPrediction']

"""The platform's tables. Models hold only row-local logic; writes go through zooapp.services."""
from __future__ import annotations

import uuid

import numpy as np
from django.conf import settings
from django.db import models
from django.db.models import Q
from scipy.special import logsumexp


class Project(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_projects")
    staff = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="staff_projects")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


def default_rules() -> dict:
    return {"task": "T0", "posterior_threshold": 0.99, "min_classifications": 3, "max_classifications": 40,
            "box_risk_threshold": None, "machine_threshold": None}


class Workflow(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="workflows")
    name = models.CharField(max_length=200)
    active = models.BooleanField(default=True)
    retirement_rules = models.JSONField(default=default_rules)
    # Gold injection: the share of gold subjects starts at gold_rate_start and falls to
    # gold_rate_end as a volunteer classifies (Zooniverse: 40% down to 10%).
    gold_rate_start = models.FloatField(default=0.4)
    gold_rate_end = models.FloatField(default=0.1)
    gold_rate_halflife = models.PositiveIntegerField(default=20)
    machine_agent = models.BooleanField(default=True, help_text="The classifier votes as one more agent.")
    retrain_every = models.PositiveIntegerField(default=200, help_text="Retrain after this many new classifications.")
    # Engine state shared by all agents: per-task population prior of agent skill, (K, K) pseudo-counts.
    engine_state = models.JSONField(default=dict, blank=True)
    aggregation_seq = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.project.name} / {self.name}"

    @property
    def current_version(self) -> "WorkflowVersion | None":
        return self.versions.order_by("-number").first()


class WorkflowVersion(models.Model):
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    tree = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workflow", "number"], name="unique_workflow_version")]

    def __str__(self) -> str:
        return f"{self.workflow} v{self.number}"


class SubjectSet(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="subject_sets")
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="subject_sets")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Subject(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        RETIRED = "retired"

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="subjects")
    subject_set = models.ForeignKey(SubjectSet, on_delete=models.CASCADE, related_name="subjects")
    external_id = models.CharField(max_length=200)
    metadata = models.JSONField(default=dict, blank=True)
    ra = models.FloatField(null=True, blank=True)
    dec = models.FloatField(null=True, blank=True)
    wcs_header = models.JSONField(null=True, blank=True, help_text="FITS WCS keywords of the displayed image.")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64, db_index=True)
    is_gold = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    priority = models.FloatField(default=0.5)
    n_classifications = models.PositiveIntegerField(default=0, help_text="Human classifications aggregated.")
    box_risk = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subject_set", "external_id"], name="unique_subject_in_set")]
        indexes = [models.Index(fields=["workflow", "status", "is_gold", "-priority", "id"], name="subject_queue")]

    def __str__(self) -> str:
        return self.external_id

    @property
    def is_retired(self) -> bool:
        return self.status == self.Status.RETIRED


class SubjectFrame(models.Model):
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="frames")
    index = models.PositiveSmallIntegerField(default=0)
    label = models.CharField(max_length=40, default="image")
    image = models.FileField(upload_to="subjects/%Y/%m/")

    class Meta:
        ordering = ["index"]


class GoldAnswer(models.Model):
    """Expert answers for a gold subject. Never serialised to a volunteer before they answer."""

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="gold_answers")
    task = models.CharField(max_length=40)
    value = models.JSONField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subject", "task"], name="unique_gold_answer")]


class SubjectTruth(models.Model):
    """Simulated truth of a synthetic subject: for evaluation only, never shown to volunteers."""

    subject = models.OneToOneField(Subject, on_delete=models.CASCADE, related_name="truth")
    values = models.JSONField()


class Volunteer(models.Model):
    """An agent whose votes the engine weighs: a person (signed in or not) or a machine."""

    class Kind(models.TextChoices):
        HUMAN = "human"
        MACHINE = "machine"

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.HUMAN)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="volunteer")
    anonymous_token = models.UUIDField(null=True, blank=True, unique=True)
    name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        if self.user_id:
            return self.user.get_username()
        return self.name or f"anonymous-{self.pk}"


class Classification(models.Model):
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="classifications")
    workflow_version = models.ForeignKey(WorkflowVersion, on_delete=models.PROTECT, related_name="classifications")
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="classifications")
    volunteer = models.ForeignKey(Volunteer, on_delete=models.CASCADE, related_name="classifications")
    annotations = models.JSONField()
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    user_agent = models.CharField(max_length=300, blank=True)
    # The order in which the online engine consumed it: a recompute replays this order.
    aggregation_seq = models.BigIntegerField(null=True, blank=True, db_index=True)
    # A machine's vote carries the confusion matrix (task -> (K, K) pseudo-counts) it was measured to have
    # when it voted, so a recompute weighs the vote exactly as the online engine did.
    machine_confusion = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["volunteer", "subject"], name="one_classification_per_volunteer")]
        indexes = [models.Index(fields=["workflow", "aggregation_seq"], name="classification_pending")]

    @property
    def is_aggregated(self) -> bool:
        return self.aggregation_seq is not None


class Reliability(models.Model):
    """One agent's Dirichlet confusion matrix for one question: alpha[true][given] pseudo-counts."""

    volunteer = models.ForeignKey(Volunteer, on_delete=models.CASCADE, related_name="reliabilities")
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="reliabilities")
    task = models.CharField(max_length=40)
    alpha = models.JSONField()
    n_votes = models.PositiveIntegerField(default=0)
    n_gold = models.PositiveIntegerField(default=0)
    skill = models.FloatField(default=0.0, help_text="Expected information per vote, bits.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["volunteer", "workflow", "task"], name="unique_reliability")]


class SubjectPosterior(models.Model):
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="posteriors")
    task = models.CharField(max_length=40)
    labels = models.JSONField()
    log_posterior = models.JSONField()
    vote_counts = models.JSONField(help_text="Raw human votes per answer.")
    weighted_counts = models.JSONField(help_text="Votes weighted by each volunteer's skill.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subject", "task"], name="unique_subject_posterior")]

    @property
    def probabilities(self) -> np.ndarray:
        """The posterior over ``labels``, normalised in log space (long vote runs underflow as plain products)."""
        logp = np.asarray(self.log_posterior, dtype=float)
        return np.exp(logp - logsumexp(logp))


class ConsensusBox(models.Model):
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="consensus_boxes")
    x_min = models.FloatField()
    y_min = models.FloatField()
    x_max = models.FloatField()
    y_max = models.FloatField()
    p_real = models.FloatField()
    n_workers = models.PositiveIntegerField()
    n_seen = models.PositiveIntegerField()


class Retirement(models.Model):
    """Each retirement or un-retirement, with the rule or agent that caused it."""

    class Action(models.TextChoices):
        RETIRE = "retire"
        UNRETIRE = "unretire"

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="retirements")
    action = models.CharField(max_length=16, choices=Action.choices, default=Action.RETIRE)
    reason = models.CharField(max_length=60)
    agent = models.CharField(max_length=20, default="humans")
    rules = models.JSONField()
    posterior = models.JSONField(null=True)
    n_classifications = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)


class RuleChange(models.Model):
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="rule_changes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    old = models.JSONField()
    new = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)


class ModelVersion(models.Model):
    class Kind(models.TextChoices):
        CLASSIFIER = "classifier"
        DETECTOR = "detector"

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="model_versions")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    number = models.PositiveIntegerField()
    file = models.CharField(max_length=500)
    n_train = models.PositiveIntegerField()
    n_val = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=dict)
    serving = models.BooleanField(default=False)
    device = models.CharField(max_length=40, default="cpu")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workflow", "kind", "number"], name="unique_model_number"),
            models.UniqueConstraint(fields=["workflow", "kind"], condition=Q(serving=True), name="one_serving_model"),
        ]


class Prediction(models.Model):
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="predictions")
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="predictions")
    task = models.CharField(max_length=40)
    probs = models.JSONField(help_text="Classifier: answer probabilities. Detector: [] (see boxes).")
    boxes = models.JSONField(null=True, blank=True,
                             help_text="Detector: [[x_min, y_min, x_max, y_max, score], ...] in image pixels.")
    bald = models.FloatField(default=0.0)
    entropy = models.FloatField(default=0.0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model_version", "subject", "task"], name="unique_prediction")]


class Favourite(models.Model):
    volunteer = models.ForeignKey(Volunteer, on_delete=models.CASCADE, related_name="favourites")
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="favourited_by")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["volunteer", "subject"], name="unique_favourite")]


class SubjectView(models.Model):
    """A subject served to a volunteer. Selection never serves the same subject twice to one volunteer."""

    volunteer = models.ForeignKey(Volunteer, on_delete=models.CASCADE, related_name="views")
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="views")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["volunteer", "subject"], name="unique_subject_view")]


class Export(models.Model):
    """A catalogue or data file written in the background and kept for project staff to download."""

    class Kind(models.TextChoices):
        CATALOGUE = "catalogue"
        CLUMPS = "clumps"
        COCO = "coco"
        CLASSIFICATIONS = "classifications"
        WORKFLOW = "workflow"

    class Format(models.TextChoices):
        FITS = "fits"
        VOTABLE = "votable"
        ECSV = "ecsv"
        CSV = "csv"
        JSON = "json"

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="exports")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    format = models.CharField(max_length=10, choices=Format.choices)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    progress = models.FloatField(default=0.0, help_text="0..1 while running.")
    file_name = models.CharField(max_length=300, blank=True, help_text="Relative to ZOOLOOP_EXPORT_DIR.")
    n_rows = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

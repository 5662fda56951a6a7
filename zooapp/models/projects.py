"""Projects, their members and roles, and workflows with their versions."""
from __future__ import annotations

from django.conf import settings
from django.db import models

# The engine's pure value types (no Django, no I/O): models read their JSON columns through them.
from aggregation.contracts import EngineState
from aggregation.retirement import RetirementRules


class Project(models.Model):
    class Visibility(models.TextChoices):
        PRIVATE = "private", "Private: the team only"
        BETA = "beta", "Beta: anyone with the link"
        PUBLIC = "public", "Public: listed on the home page"

    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_projects")
    # Collaborators from before per-project roles; zooapp.access reads them as the collaborator role.
    staff = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="staff_projects")
    # Public by default so projects made before visibility existed stay open; `project_create` makes new ones private.
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A person's role on one project; what each role may do is written down in `zooapp.access.ROLE_RIGHTS`."""

    class Role(models.TextChoices):
        OWNER = "owner"
        COLLABORATOR = "collaborator"
        EXPERT = "expert"
        MODERATOR = "moderator"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="one_role_per_project")]


def default_rules() -> dict:
    """A new workflow's retirement rules: `RetirementRules`' defaults, the only copy of them."""
    return RetirementRules().to_dict()


class Workflow(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        ACTIVE = "active"
        PAUSED = "paused"
        FINISHED = "finished"

    class QueueOrder(models.TextChoices):
        UNCERTAINTY = "uncertainty", "Most uncertain first (refreshed after every aggregation batch)"
        FIXED = "fixed", "Fixed priorities (as uploaded or set; e.g. a random order for an unbiased sample)"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="workflows")
    name = models.CharField(max_length=200)
    # The life cycle (services/workflows.py::workflow_status_set); `active` stays the switch that the
    # queue and the scheduler read, and a status change keeps it equal to ``status == "active"``.
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    active = models.BooleanField(default=True)
    # The tree being edited in the builder, not yet published as a WorkflowVersion (null: no pending edit).
    draft_tree = models.JSONField(null=True, blank=True)
    retirement_rules = models.JSONField(default=default_rules)
    # Gold injection: the share of gold subjects starts at gold_rate_start and falls to
    # gold_rate_end as a volunteer classifies (Zooniverse: 40% down to 10%).
    gold_rate_start = models.FloatField(default=0.4)
    gold_rate_end = models.FloatField(default=0.1)
    gold_rate_halflife = models.PositiveIntegerField(default=20)
    machine_agent = models.BooleanField(default=True, help_text="The classifier votes as one more agent.")
    retrain_every = models.PositiveIntegerField(default=200, help_text="Retrain after this many new classifications.")
    queue_order = models.CharField(max_length=12, choices=QueueOrder.choices, default=QueueOrder.UNCERTAINTY,
                                   help_text="How the volunteer queue orders the active subjects.")
    # `aggregation.contracts.EngineState` as JSON (read it through `Workflow.engine`): the engine's settings
    # and the refitted priors shared by all agents, e.g. per question the (K, K) population prior of skill.
    engine_state = models.JSONField(default=dict, blank=True)
    aggregation_seq = models.BigIntegerField(default=0)
    # A running count kept by the aggregation batch (rebuilt by a recompute), so that "how many human
    # classifications so far" costs one row read instead of a COUNT(*) over the survey after every vote.
    n_human_classifications = models.PositiveBigIntegerField(
        default=0, help_text="Human classifications aggregated so far.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.project.name} / {self.name}"

    @property
    def current_version(self) -> "WorkflowVersion | None":
        return self.versions.order_by("-number").first()

    @property
    def rules(self) -> RetirementRules:
        """``retirement_rules`` as the typed rules, e.g. ``workflow.rules.task``; ValueError if corrupt."""
        return RetirementRules.from_dict(self.retirement_rules)

    @property
    def engine(self) -> EngineState:
        """``engine_state`` as the typed state (defaults where unset); ValueError if corrupt."""
        return EngineState.from_dict(self.engine_state)


class WorkflowVersion(models.Model):
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    tree = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workflow", "number"], name="unique_workflow_version")]

    def __str__(self) -> str:
        return f"{self.workflow} v{self.number}"

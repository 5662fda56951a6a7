"""Who may see and change what. Every rule with security impact lives here, and only here.

Roles: anonymous and signed-in volunteers may classify active workflows and read
public project data (of the aggregations, only those of retired non-gold subjects:
``visible_posteriors``); *project staff* (the owner, the project's staff list, or a
superuser) may read gold answers, truth, raw classifications and exports, and
change rules and subject sets. Subject metadata whose key starts with one of
``PRIVATE_METADATA_PREFIXES`` is for staff only and never leaves through a public view.
"""
from __future__ import annotations

import re
from functools import partial
from typing import Any, Literal

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from zooapp.errors import ValidationFailed
from zooapp.models import Export, Membership, Project, Workflow
from zooapp.models import Subject, SubjectPosterior
from zooapp.models import AnomalySession, NewQuestion

# Zooniverse's convention: "#hidden" and "!private" columns (and "_internal" ones) are not shown to volunteers.
PRIVATE_METADATA_PREFIXES = ("#", "!", "_")


def public_metadata(metadata: dict[str, Any] | None) -> dict[str, Any]:
    """The subject metadata a volunteer (or a public export) may see: private keys removed."""
    return {k: v for k, v in (metadata or {}).items() if not str(k).startswith(PRIVATE_METADATA_PREFIXES)}


Role = Membership.Role
# What each project role may do. build: edit trees, publish, change the life cycle, upload subjects and rules;
# members: give and take roles and set the visibility; gold: give gold and expert answers; moderate: tags and
# comments; view: see the project's builder pages and its preview. Site admins may do everything everywhere.
ROLE_RIGHTS: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset({"build", "members", "gold", "moderate", "view"}),
    Role.COLLABORATOR: frozenset({"build", "gold", "moderate", "view"}),
    Role.EXPERT: frozenset({"gold", "view"}),
    Role.MODERATOR: frozenset({"moderate", "view"}),
}
# The roles that run a project: its staff, who reach its dashboard.
STAFF_ROLES = (Role.OWNER, Role.COLLABORATOR)
OPEN_VISIBILITIES = (Project.Visibility.PUBLIC, Project.Visibility.BETA)


def volunteer_workflows() -> QuerySet[Workflow]:
    """The workflows volunteers may see and classify: active ones of public or beta (by link) projects."""
    return Workflow.objects.filter(active=True, status=Workflow.Status.ACTIVE,
                                   project__visibility__in=OPEN_VISIBILITIES)


def role_check(role: str) -> str:
    """``role`` if it is a project role, else ValidationFailed naming the roles there are."""
    if role not in ROLE_RIGHTS:
        raise ValidationFailed(f"unknown role {role!r}; a project role is one of {', '.join(ROLE_RIGHTS)}")
    return role


def project_role(user, project: Project) -> str | None:
    """The user's role on the project: its owner, a Membership, a legacy staff member (collaborator), or None."""
    if not user.is_authenticated:
        return None
    if project.owner_id == user.pk:
        return Role.OWNER
    found = Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
    if found is not None:
        return found
    return Role.COLLABORATOR if project.staff.filter(pk=user.pk).exists() else None


def project_can(user, project: Project, right: str) -> bool:
    """Whether the user holds ``right`` (a word of ROLE_RIGHTS) on the project; site admins hold every right."""
    if user.is_authenticated and user.is_superuser:
        return True
    return right in ROLE_RIGHTS.get(project_role(user, project), frozenset())


def visible_posteriors(user, posteriors: QuerySet[SubjectPosterior]) -> QuerySet[SubjectPosterior]:
    """The posteriors the user may read: all of their own projects', and elsewhere only finished results.

    A private project's results are its team's until it opens. A live posterior would let a volunteer copy the crowd on a subject they are about to classify
    (and agreement with the crowd is what teaches the engine their skill), and a gold subject's
    posterior is its answer; a retired subject's consensus is the project's published result.
    """
    public = posteriors.filter(subject__status=Subject.Status.RETIRED, subject__is_gold=False,
                               subject__workflow__project__visibility__in=OPEN_VISIBILITIES)
    if not user.is_authenticated:
        return public
    if user.is_superuser:
        return posteriors
    return public | posteriors.filter(subject__workflow__project__in=staff_projects(user))


def is_project_staff(user, project: Project) -> bool:
    """Whether the user runs the project: a site admin, its owner or a collaborator."""
    return project_can(user, project, "build")


def readable_projects(user, *, listing: bool = False) -> QuerySet[Project]:
    """Projects the user may read through the API: their own, public ones, and beta ones by id.

    A beta project is open to anyone with its link but not listed, so ``listing=True`` leaves
    out the beta projects the user holds no role on; private ones are the team's only.
    """
    open_ = (Project.Visibility.PUBLIC,) if listing else OPEN_VISIBILITIES
    return Project.objects.filter(Q(visibility__in=open_) | Q(pk__in=member_projects(user).values("pk")))


def readable_workflows(user, *, listing: bool = False) -> QuerySet[Workflow]:
    """Workflows the user may read: volunteer-visible ones (beta ones by id only) and all of their projects'.

    Drafts, paused and finished workflows of a public project stay with its team.
    """
    open_ = volunteer_workflows()
    if listing:
        open_ = open_.filter(project__visibility=Project.Visibility.PUBLIC)
    return Workflow.objects.filter(Q(pk__in=open_.values("pk")) | Q(project__in=member_projects(user).values("pk")))


def member_projects(user) -> QuerySet[Project]:
    """Projects where the user holds any role (all of them for a superuser)."""
    return _projects_with_roles(user, tuple(ROLE_RIGHTS))


def staff_projects(user) -> QuerySet[Project]:
    """Projects the user runs (all of them for a superuser)."""
    return _projects_with_roles(user, STAFF_ROLES)


def _projects_with_roles(user, roles: tuple[str, ...]) -> QuerySet[Project]:
    if not user.is_authenticated:
        return Project.objects.none()
    if user.is_superuser:
        return Project.objects.all()
    ids = set(Membership.objects.filter(user=user, role__in=roles).values_list("project_id", flat=True))
    return (Project.objects.filter(owner=user) | Project.objects.filter(staff=user)
            | Project.objects.filter(pk__in=ids)).distinct()


def get_project_for_user(user, project_id: int, *, right: str = "view") -> Project:
    """The project, or 404 unless the user holds a role on it; PermissionDenied without ``right``."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None or not project_can(user, project, "view"):
        raise Http404(f"no project {project_id} of yours")
    if not project_can(user, project, right):
        raise PermissionDenied(f"your role on {project.name} does not allow this ({right})")
    return project


def get_workflow_for_builder(user, workflow_id: int, *, right: str = "build") -> Workflow:
    """A workflow for the builder, or 404 unless the user holds a role on its project; PermissionDenied
    without ``right``."""
    workflow = Workflow.objects.select_related("project").filter(pk=workflow_id).first()
    if workflow is None or not project_can(user, workflow.project, "view"):
        raise Http404(f"no workflow {workflow_id} of yours")
    if not project_can(user, workflow.project, right):
        raise PermissionDenied(f"your role on {workflow.project.name} does not allow this ({right})")
    return workflow


def runs_any_project(user) -> bool:
    """Whether the user has a dashboard to open: a superuser, or staff of at least one project."""
    return user.is_authenticated and (user.is_superuser or staff_projects(user).exists())


def get_workflow_for_user(user, workflow_id: int, *, staff: bool = False, right: str | None = None) -> Workflow:
    """The workflow, or 404; with ``staff=True`` also PermissionDenied unless the user is project staff, and with
    ``right`` (a word of ROLE_RIGHTS) unless they hold it on the project."""
    workflow = Workflow.objects.select_related("project").filter(pk=workflow_id).first()
    if workflow is None:
        raise Http404(f"no workflow {workflow_id}")
    if staff and not is_project_staff(user, workflow.project):
        raise PermissionDenied("only the project's staff can do this")
    if right is not None and not project_can(user, workflow.project, right):
        raise PermissionDenied(f"your role on {workflow.project.name} does not allow this ({right})")
    return workflow


def get_export_for_user(user, export_id: int) -> Export:
    """An export, or 404; PermissionDenied unless the user is staff of its workflow's project."""
    try:
        export = Export.objects.filter(pk=export_id).first()
    except (TypeError, ValueError):  # a malformed id from the router's pattern is a 404, not a 500
        export = None
    if export is None:
        raise Http404(f"no export {export_id}")
    get_workflow_for_user(user, export.workflow_id, staff=True)
    return export


def staff_exports(user) -> QuerySet[Export]:
    """The exports the user may list: those of the projects they run."""
    return Export.objects.filter(workflow__project__in=staff_projects(user))


def subject_readable(user, subject: Subject) -> bool:
    """Whether the user may see a subject's page and tags: a volunteer-visible workflow's, or one of their projects'."""
    if volunteer_workflows().filter(pk=subject.workflow_id).exists():
        return True
    return project_can(user, subject.workflow.project, "view")


def get_subject_for_user(user, subject_id: int) -> Subject:
    """The subject, or 404 unless `subject_readable`: hidden subjects do not reveal that they exist."""
    subject = Subject.objects.select_related("workflow__project").filter(pk=subject_id).first()
    if subject is None or not subject_readable(user, subject):
        raise Http404(f"no subject {subject_id}")
    return subject


def tag_readable_subjects(user) -> QuerySet[Subject]:
    """Subjects whose tags the user may search and read: volunteer-visible workflows' and their own projects'."""
    return Subject.objects.filter(workflow__in=volunteer_workflows()) | Subject.objects.filter(
        workflow__project__in=member_projects(user))


def tag_may_moderate(user, project: Project) -> bool:
    """Hide and restore volunteers' tags: the moderate right (owners, collaborators, moderators, site admins)."""
    return project_can(user, project, "moderate")


def moderated_projects(user) -> QuerySet[Project]:
    """Projects whose tags the user may moderate (all of them for a superuser)."""
    return _projects_with_roles(user, _roles_with("moderate"))


def gold_projects(user) -> QuerySet[Project]:
    """Projects where the user may give gold and expert answers (experts, collaborators, owners, site admins)."""
    return _projects_with_roles(user, _roles_with("gold"))


def _roles_with(right: str) -> tuple[str, ...]:
    return tuple(role for role, rights in ROLE_RIGHTS.items() if right in rights)


def navigation(request) -> dict[str, Any]:
    """Template context processor: what the site navigation may offer this user.

    ``shows_dashboard`` is a callable, so the query runs only on pages that render the navigation.
    """
    return {"shows_dashboard": partial(runs_any_project, request.user)}


# Learned representations (#13): "more like this" follows what the user may read; anomaly sessions are their
# owner's; new questions are created and fitted by a project's builders, labelled by those with the gold right.
def similar_scope(user, subject: Subject, workflow_id: int | None) -> int | None:
    """The workflow filter a "more like this" search from ``subject`` runs under, or 404.

    Project members may search the whole project (None) or any of its workflows; everyone else only
    volunteer-visible workflows, the subject's own by default.
    """
    if project_can(user, subject.workflow.project, "view"):
        return workflow_id
    workflow_id = workflow_id or subject.workflow_id
    if not volunteer_workflows().filter(pk=workflow_id, project_id=subject.workflow.project_id).exists():
        raise Http404(f"no workflow {workflow_id} to search")
    return workflow_id


def research_workflows(user) -> QuerySet[Workflow]:
    """Workflows whose researchers the user is: any role on the project (all of them for a superuser)."""
    return Workflow.objects.filter(project__in=member_projects(user)).select_related("project")


def get_anomaly_session_for_user(user, session_id: int) -> AnomalySession:
    """The user's own anomaly session, or 404 (a superuser may open anyone's)."""
    session = AnomalySession.objects.select_related("workflow__project").filter(pk=session_id).first()
    if session is None or not user.is_authenticated or (session.owner_id != user.pk and not user.is_superuser):
        raise Http404(f"no anomaly session {session_id} of yours")
    return session


def get_question_for_user(user, question_id: int, *, right: str = "view") -> NewQuestion:
    """A new question, or 404 unless the user holds a role on its project; PermissionDenied without ``right``."""
    question = NewQuestion.objects.select_related("workflow__project").filter(pk=question_id).first()
    if question is None:
        raise Http404(f"no question {question_id}")
    get_workflow_for_builder(user, question.workflow_id, right=right)
    return question


# Stored files (#16). Under MEDIA there are only subject images (SubjectFrame.image): exports, model checkpoints
# and the field guide's pictures live elsewhere (ZOOLOOP_EXPORT_DIR, ZOOLOOP_MODEL_DIR, static files).
MediaScope = Literal["public", "private"]
# subject_create names every image after the SHA-256 of its content (Subject.content_hash), and SubjectFrame.image
# has no index: the hash's first 16 hex digits in the file name reach the frame through content_hash's index.
_HASHED_IMAGE = re.compile(r"(?:.*/)?([0-9a-f]{16})[^/]*")


def media_scope_for_user(user, name: str) -> MediaScope:
    """Who may be sent the stored file ``name`` along with this user, or Http404 where the user may not read it.

    "public": anyone, and shared caches may keep it; "private": this user, kept out of shared caches. A subject
    image follows its project (as ``readable_projects`` does): a public project's is anyone's; a beta one's is anyone's
    with the link, but private, so no cache keeps serving it once the project closes; a private one's is its
    team's. A file no frame refers to (left by a deleted subject or a broken upload) has no project to ask and may
    have been a private one's, so only site admins, who may read every project, get it. 404, never 403: a path
    must not tell a stranger that a hidden project's file exists.
    """
    lookup = {"workflows__subjects__frames__image": name}
    if hashed := _HASHED_IMAGE.fullmatch(name):
        # A range, not startswith: SQLite uses no index for LIKE. Hashes are lowercase hex, all below prefix + "g".
        lookup |= {"workflows__subjects__content_hash__gte": hashed[1],
                   "workflows__subjects__content_hash__lt": hashed[1] + "g"}
    projects = list(Project.objects.filter(**lookup).distinct())
    if any(p.visibility == Project.Visibility.PUBLIC for p in projects):
        return "public"  # decided before ``user`` is read: no session lookup, so no "Vary: Cookie" on a public file
    if any(p.visibility in OPEN_VISIBILITIES or project_can(user, p, "view") for p in projects):
        return "private"
    if not projects and user.is_authenticated and user.is_superuser:
        return "private"
    raise Http404("no such file")

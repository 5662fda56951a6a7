from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from zooapp.api import builder as builder_api
from zooapp.api import catalogue as catalogue_api
from zooapp.api import represent as represent_api
from zooapp.api import subject_questions as subject_questions_api
from zooapp.api import tags as tags_api
from zooapp.api import volunteer as api
from zooapp.views import builder as builder_views
from zooapp.views import dashboard as dashboard_views
from zooapp.views import gold as gold_views
from zooapp.views import media as media_views
from zooapp.views import research as research_views
from zooapp.views import tags as tags_views
from zooapp.views import whatif as whatif_views
from zooapp.views import volunteer as views

router = DefaultRouter()
router.register("projects", api.ProjectViewSet, basename="project")
router.register("workflows", api.WorkflowViewSet, basename="workflow")
router.register("subject-sets", api.SubjectSetViewSet, basename="subjectset")
router.register("subjects", api.SubjectViewSet, basename="subject")
router.register("aggregations", api.AggregationViewSet, basename="aggregation")
router.register("model-versions", api.ModelVersionViewSet, basename="modelversion")
router.register("exports", catalogue_api.ExportViewSet, basename="export")

# The admins' pages for one workflow; its charts, rules and exports.
dashboard_patterns = [
    path("", dashboard_views.dashboard_index, name="dashboard-index"),
    path("<int:workflow_id>/", dashboard_views.dashboard, name="dashboard"),
    path("<int:workflow_id>/counts/", dashboard_views.dashboard_counts, name="dashboard-counts"),
    path("<int:workflow_id>/rules/", dashboard_views.dashboard_rules, name="dashboard-rules"),
    path("<int:workflow_id>/reapply/", dashboard_views.dashboard_reapply, name="dashboard-reapply"),
    path("<int:workflow_id>/exports/", dashboard_views.dashboard_export, name="dashboard-export"),
    path("<int:workflow_id>/subjects/", dashboard_views.dashboard_subjects, name="dashboard-subjects"),
    path("<int:workflow_id>/gold/", dashboard_views.dashboard_gold, name="dashboard-gold"),
    path("<int:workflow_id>/whatif/", whatif_views.whatif, name="dashboard-whatif"),
    path("exports/<int:export_id>/download/", dashboard_views.export_download, name="dashboard-export-download"),
]

# The project builder: pages, then the API its ES modules call.
builder_patterns = [
    path("", builder_views.builder_index, name="builder-index"),
    path("projects/<int:project_id>/", builder_views.builder_project, name="builder-project"),
    path("workflows/<int:workflow_id>/", builder_views.builder_workflow, name="builder-workflow"),
    path("workflows/<int:workflow_id>/preview/", builder_views.builder_preview, name="builder-preview"),
]

builder_api_patterns = [
    path("projects/", builder_api.ProjectCreateApi.as_view(), name="api-builder-projects"),
    path("projects/<int:pk>/members/", builder_api.ProjectMembersApi.as_view(), name="api-builder-members"),
    path("projects/<int:pk>/visibility/", builder_api.ProjectVisibilityApi.as_view(), name="api-builder-visibility"),
    path("projects/<int:pk>/workflows/", builder_api.ProjectWorkflowsApi.as_view(), name="api-builder-workflows"),
    path("validate/", builder_api.TreeValidateApi.as_view(), name="api-builder-validate"),
    path("workflows/<int:pk>/draft/", builder_api.WorkflowDraftApi.as_view(), name="api-builder-draft"),
    path("workflows/<int:pk>/import/", builder_api.WorkflowImportApi.as_view(), name="api-builder-import"),
    path("workflows/<int:pk>/diff/", builder_api.WorkflowDiffApi.as_view(), name="api-builder-diff"),
    path("workflows/<int:pk>/publish/", builder_api.WorkflowPublishApi.as_view(), name="api-builder-publish"),
    path("workflows/<int:pk>/status/", builder_api.WorkflowStatusApi.as_view(), name="api-builder-status"),
    path("workflows/<int:pk>/preview/classifications/", builder_api.PreviewClassificationApi.as_view(),
         name="api-builder-preview-classifications"),
    path("workflows/<int:pk>/preview/queue/", builder_api.PreviewQueueApi.as_view(), name="api-builder-preview-queue"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("classify/<int:workflow_id>/", views.classify, name="classify"),
    path("me/", views.me, name="me"),
    path("subjects/<int:subject_id>/", tags_views.subject_page, name="subject-page"),
    path("tags/", tags_views.tag_search_page, name="tag-search"),
    path("expert/workflows/<int:workflow_id>/gold/", gold_views.expert_gold, name="expert-gold"),
    path("moderation/", tags_views.moderation_index, name="moderation-index"),
    path("moderation/projects/<int:project_id>/tags/", tags_views.tag_moderation, name="tag-moderation"),
    path("api/subjects/<int:pk>/tags/", tags_api.SubjectTagsApi.as_view(), name="api-subject-tags"),
    path("api/subjects/<int:pk>/questions/", subject_questions_api.SubjectQuestionsApi.as_view(),
         name="api-subject-questions"),
    path("api/tags/<int:pk>/", tags_api.TagApi.as_view(), name="api-tag"),
    path("api/tags/<int:pk>/moderation/", tags_api.TagModerationApi.as_view(), name="api-tag-moderation"),
    path("api/tags/search/", tags_api.TagSearchApi.as_view(), name="api-tag-search"),
    path("research/similar/<int:subject_id>/", research_views.similar_page, name="research-similar"),
    path("research/anomaly/", research_views.anomaly_index, name="research-anomaly-index"),
    path("research/anomaly/<int:session_id>/", research_views.anomaly_page, name="research-anomaly"),
    path("research/questions/", research_views.questions_index, name="research-questions"),
    path("research/questions/<int:question_id>/volunteers/", research_views.question_volunteers,
         name="research-question-volunteers"),
    path("api/subjects/<int:pk>/similar/", represent_api.SimilarApi.as_view(), name="api-subject-similar"),
    path("api/anomaly-sessions/", represent_api.AnomalySessionsApi.as_view(), name="api-anomaly-sessions"),
    path("api/anomaly-sessions/<int:pk>/", represent_api.AnomalySessionApi.as_view(), name="api-anomaly-session"),
    path("api/anomaly-sessions/<int:pk>/labels/", represent_api.AnomalyLabelApi.as_view(), name="api-anomaly-labels"),
    path("api/anomaly-sessions/<int:pk>/export/", represent_api.AnomalyExportApi.as_view(), name="api-anomaly-export"),
    path("api/workflows/<int:pk>/questions/", represent_api.WorkflowQuestionsApi.as_view(),
         name="api-workflow-questions"),
    path("api/questions/<int:pk>/labels/", represent_api.QuestionLabelsApi.as_view(), name="api-question-labels"),
    path("api/questions/<int:pk>/fit/", represent_api.QuestionFitApi.as_view(), name="api-question-fit"),
    path("api/questions/<int:pk>/export/", represent_api.QuestionExportApi.as_view(), name="api-question-export"),
    path("dashboard/", include(dashboard_patterns)),
    path("builder/", include(builder_patterns)),
    path("api/builder/", include(builder_api_patterns)),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/login/", views.ClaimingLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/classifications/", api.ClassificationCreateApi.as_view(), name="api-classifications"),
    path("api/classifications/<int:pk>/feedback/", api.ClassificationFeedbackApi.as_view(),
         name="api-classification-feedback"),
    path("api/workflows/<int:pk>/queue/", api.WorkflowQueueApi.as_view(), name="api-workflow-queue"),
    path("api/subjects/<int:pk>/favourite/", api.SubjectFavouriteApi.as_view(), name="api-subject-favourite"),
    path("api/workflows/<int:pk>/subject-uploads/", catalogue_api.SubjectSetUploadApi.as_view(),
         name="api-subject-uploads"),
    path("api/workflows/<int:pk>/gold-answers/", catalogue_api.GoldAnswerListApi.as_view(), name="api-gold-answers"),
    path("api/workflows/<int:pk>/truth/", catalogue_api.SubjectTruthListApi.as_view(), name="api-truth"),
    path("api/token/", api.ThrottledObtainAuthToken.as_view(), name="api-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include(router.urls)),
]

if settings.MEDIA_URL.startswith("/"):
    # Media on this site's own URLs, read through the storage backend; an object store with its
    # own URLs (MEDIA_URL=https://...) serves them itself. See docs/DEPLOY.md.
    urlpatterns.append(path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", media_views.media, name="media"))

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import DefaultRouter

from zooapp.api import catalogue as catalogue_api
from zooapp.api import volunteer as api
from zooapp.views import dashboard as dashboard_views
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

urlpatterns = [
    path("", views.home, name="home"),
    path("classify/<int:workflow_id>/", views.classify, name="classify"),
    path("me/", views.me, name="me"),
    path("dashboard/", dashboard_views.dashboard_index, name="dashboard-index"),
    path("dashboard/<int:workflow_id>/", dashboard_views.dashboard, name="dashboard"),
    path("dashboard/<int:workflow_id>/counts/", dashboard_views.dashboard_counts, name="dashboard-counts"),
    path("dashboard/<int:workflow_id>/rules/", dashboard_views.dashboard_rules, name="dashboard-rules"),
    path("dashboard/<int:workflow_id>/reapply/", dashboard_views.dashboard_reapply, name="dashboard-reapply"),
    path("dashboard/<int:workflow_id>/exports/", dashboard_views.dashboard_export, name="dashboard-export"),
    path("dashboard/<int:workflow_id>/subjects/", dashboard_views.dashboard_subjects, name="dashboard-subjects"),
    path("dashboard/<int:workflow_id>/gold/", dashboard_views.dashboard_gold, name="dashboard-gold"),
    path("dashboard/<int:workflow_id>/whatif/", whatif_views.whatif, name="dashboard-whatif"),
    path("dashboard/exports/<int:export_id>/download/", dashboard_views.export_download,
         name="dashboard-export-download"),
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
    path("api/token/", obtain_auth_token, name="api-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include(router.urls)),
]

if settings.DEBUG or settings.STORAGES["default"]["BACKEND"].endswith("FileSystemStorage"):
    # Media from the local disk; a shared object store serves its own URLs in production.
    urlpatterns.append(path("media/<path:path>", serve, {"document_root": settings.MEDIA_ROOT}))

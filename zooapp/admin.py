from django.contrib import admin

from zooapp import models


class WorkflowVersionInline(admin.TabularInline):
    model = models.WorkflowVersion
    extra = 0
    readonly_fields = ["number", "created_at"]


@admin.register(models.Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "owner", "created_at"]
    filter_horizontal = ["staff"]


@admin.register(models.Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "active", "machine_agent", "created_at"]
    inlines = [WorkflowVersionInline]


@admin.register(models.Subject)
class SubjectAdmin(admin.ModelAdmin):
    list_display = ["external_id", "workflow", "status", "is_gold", "n_classifications", "priority", "ra", "dec"]
    list_filter = ["status", "is_gold", "workflow"]
    search_fields = ["external_id"]


@admin.register(models.Classification)
class ClassificationAdmin(admin.ModelAdmin):
    list_display = ["id", "subject", "volunteer", "workflow_version", "aggregation_seq", "created_at"]
    list_filter = ["workflow"]
    raw_id_fields = ["subject", "volunteer"]


@admin.register(models.Retirement)
class RetirementAdmin(admin.ModelAdmin):
    list_display = ["subject", "action", "reason", "agent", "n_classifications", "created_at"]
    list_filter = ["action", "reason", "agent"]


@admin.register(models.ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["workflow", "kind", "number", "n_train", "serving", "device", "created_at"]


@admin.register(models.Export)
class ExportAdmin(admin.ModelAdmin):
    list_display = ["id", "workflow", "kind", "format", "status", "progress", "n_rows", "requested_by", "created_at"]
    list_filter = ["kind", "format", "status"]
    readonly_fields = ["status", "progress", "file_name", "n_rows", "error", "finished_at"]


for model in (models.WorkflowVersion, models.SubjectSet, models.SubjectFrame, models.GoldAnswer, models.SubjectTruth,
              models.Volunteer, models.Reliability, models.SubjectPosterior, models.ConsensusBox, models.RuleChange,
              models.Prediction, models.Favourite, models.SubjectView):
    admin.site.register(model)

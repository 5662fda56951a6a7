from django.db import migrations, models


def count_aggregated(apps, schema_editor):
    """Existing workflows start from their true count, so the counter never has to be trusted blind."""
    Workflow = apps.get_model("zooapp", "Workflow")
    Classification = apps.get_model("zooapp", "Classification")
    for workflow in Workflow.objects.all():
        n = Classification.objects.filter(workflow=workflow, aggregation_seq__isnull=False,
                                          volunteer__kind="human").count()
        Workflow.objects.filter(pk=workflow.pk).update(n_human_classifications=n)


class Migration(migrations.Migration):

    dependencies = [
        ('zooapp', '0005_prediction_boxes'),
    ]

    operations = [
        migrations.AddField(
            model_name='workflow',
            name='n_human_classifications',
            field=models.PositiveBigIntegerField(default=0, help_text='Human classifications aggregated so far.'),
        ),
        migrations.RunPython(count_aggregated, migrations.RunPython.noop),
    ]

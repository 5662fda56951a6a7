import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """The machine's common held-out set, its calibration, and which version cast a vote or retired a galaxy."""

    dependencies = [
        ('zooapp', '0006_engine_counters'),
    ]

    operations = [
        migrations.AddField(
            model_name='subject',
            name='holdout',
            field=models.BooleanField(default=False, help_text="In the machine's common held-out set: never trained on."),
        ),
        migrations.AddField(
            model_name='modelversion',
            name='n_human_classifications',
            field=models.PositiveBigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='modelversion',
            name='calibration',
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='classification',
            name='model_version',
            field=models.ForeignKey(blank=True, help_text='The classifier version that cast a machine vote.', null=True,
                                    on_delete=django.db.models.deletion.SET_NULL, related_name='votes',
                                    to='zooapp.modelversion'),
        ),
        migrations.AddField(
            model_name='retirement',
            name='model_version',
            field=models.ForeignKey(blank=True, help_text='The classifier behind a machine retirement.', null=True,
                                    on_delete=django.db.models.deletion.SET_NULL, related_name='retirements',
                                    to='zooapp.modelversion'),
        ),
    ]

"""The Celery application; tasks live in zooapp/tasks.py and route to queues by name."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zooapp.settings")

app = Celery("zooapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["zooapp"])


@app.on_after_configure.connect
def _make_broker_folders(sender, **kwargs):
    # kombu's filesystem transport expects its folders to exist before the first message.
    from pathlib import Path

    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        folder = sender.conf.broker_transport_options.get(key)
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)

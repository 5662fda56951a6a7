from django.apps import AppConfig


class ZooappConfig(AppConfig):
    name = "zooapp"
    verbose_name = "zooloop"
    default_auto_field = "django.db.models.BigAutoField"

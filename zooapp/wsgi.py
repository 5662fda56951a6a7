import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zooapp.settings")
application = get_wsgi_application()

# Load the task modules (and what they import) while the process boots, not inside the first
# classification request: a lazy first import took over 10 s and held every other thread on the import lock.
import zooapp.tasks  # noqa: E402,F401

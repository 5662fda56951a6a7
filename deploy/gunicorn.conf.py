"""gunicorn settings for zooloop's web processes: gunicorn -c deploy/gunicorn.conf.py zooapp.wsgi:application

Web processes keep no state of their own (sessions and data in PostgreSQL, rate-limit counters in the
CACHE_URL Redis, media in the STORAGES backend), so any number of hosts can run this behind a load balancer.
The application's own settings come from the environment (.env.example); these are the server's.
"""
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Each process imports the task modules (and torch) once at boot; threads share that memory.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Load the app in the master and fork: workers share the imported code, and a restarted worker is ready at once.
preload_app = True
timeout = 30
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak cannot grow without bound.
max_requests = 5000
max_requests_jitter = 500
# The load balancer's addresses, so X-Forwarded-For/-Proto from it are believed (and only from it).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")


def post_fork(server, worker):
    # Connections must not be shared across fork: each worker opens its own on first use.
    from django.db import connections

    connections.close_all()

"""Business logic: typed, keyword-only `<entity>_<action>` functions.

Views, API classes, management commands and Celery tasks call these; only this
package and zooapp/tasks.py import the engines in `aggregation` and `ml`.
"""

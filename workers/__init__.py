"""The Celery side of publisher: the app and its thin tasks."""

import gc
import os

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlplatform.settings")

app = Celery("mlplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@after_setup_logger.connect
@after_setup_task_logger.connect
def _quiet_routine_tasks(logger, *args, **kwargs):
    # Celery installs its own handlers: give them the filter the Django LOGGING config
    # gives the web's, so the worker's and beat's logs skip the every-second routine too.
    from mlplatform.logfilters import RoutineTaskFilter

    for handler in logger.handlers:
        if not any(isinstance(f, RoutineTaskFilter) for f in handler.filters):
            handler.addFilter(RoutineTaskFilter())


@worker_process_init.connect
def _freeze_loaded_objects(**kwargs):
    # A pool process starts with the app and every task module loaded: as in the web's
    # WSGI module, keep those long-lived objects out of every full collection.
    gc.freeze()

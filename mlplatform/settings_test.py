"""The settings the test suite runs with (pytest.ini): the real ones, as on one host.

MLPLATFORM_LOCAL=1 is what `make run` sets too: without SECRET_KEY a key is generated under
var/ instead of refusing to start, as a deployment would. Set before the settings are read,
and inherited by the processes the tests start (the Celery worker).
"""

import os

os.environ.setdefault("MLPLATFORM_LOCAL", "1")

from mlplatform.settings import *  # noqa: F403

"""The WSGI module as gunicorn loads it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_loading_the_app_freezes_what_it_loaded_out_of_the_collector():
    env = dict(os.environ, MLPLATFORM_LOCAL="1", MLPLATFORM_VAR_DIR=str(ROOT / "var"))
    env.pop("DJANGO_SETTINGS_MODULE", None)
    code = "import gc, mlplatform.wsgi; print(gc.get_freeze_count())"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert out.returncode == 0, out.stderr[-2000:]
    # Django and the apps: well over ten thousand objects.
    assert int(out.stdout.split()[-1]) > 10_000, out.stdout

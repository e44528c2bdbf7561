"""Local multi-cluster testbed: Karmada plus two member clusters as processes.

`python testbed/testbed.py up|down|status|env` from a shell; `testbed.api.ensure_up()`
from tests.
"""

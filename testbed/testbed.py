"""Command line for the local multi-cluster testbed.

    python testbed/testbed.py up       start (or reuse) Karmada + member-cluster-1/2
    python testbed/testbed.py status   each process up/down, each Cluster Ready or not
    python testbed/testbed.py env      the export line for KARMADA_KUBECONFIG_PATH
    python testbed/testbed.py down     stop every testbed process, remove .testbed/

Environment: TESTBED_PORT_BASE (default 29000; ports base..base+51),
TESTBED_TRAINER_V2=1 (start Kubeflow Trainer v2 and JobSet with the testbed),
TESTBED_POD_RUN_SECONDS (default 5: how long a training pod runs before it ends),
TESTBED_HOME (state directory, default .testbed/ at the repository root),
TESTBED_CACHE (binaries, default ~/.cache/mlplatform/testbed).
"""

from __future__ import annotations

import argparse
import os
import sys

if __name__ == "__main__":
    # Run as a script, this file's directory comes first on sys.path and would shadow
    # the `testbed` package with this module; import the package from the repo root.
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]
    sys.path.insert(0, os.path.dirname(_here))

from testbed import runtime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="testbed", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start the testbed, or reuse it when healthy")
    p_up.add_argument(
        "--timeout", type=float, default=900, help="seconds to wait for a start (build excluded)"
    )
    sub.add_parser("down", help="stop every testbed process and remove .testbed/")
    sub.add_parser("status", help="print each process and cluster; exit 1 unless healthy")
    sub.add_parser("env", help="print the export line for KARMADA_KUBECONFIG_PATH")
    args = parser.parse_args(argv)

    if args.command == "up":
        try:
            runtime.up(timeout=args.timeout)
        except (RuntimeError, TimeoutError) as e:
            print(f"[testbed] up failed: {e}", file=sys.stderr)
            return 1
        print(runtime.export_line())
        return 0
    if args.command == "down":
        runtime.down()
        return 0
    if args.command == "status":
        healthy, lines = runtime.status_lines()
        print("\n".join(lines))
        return 0 if healthy else 1
    if args.command == "env":
        if runtime.current_layout() is None:
            print(
                "[testbed] not running: start it with `python testbed/testbed.py up`",
                file=sys.stderr,
            )
        print(runtime.export_line())
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())

"""The clusters app stands below jobs: jobs may use clusters, never the other way round."""

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _modules(*, tests: bool) -> list[Path]:
    return [p for p in APP.rglob("*.py") if ("tests" in p.relative_to(APP).parts) == tests]


def test_no_clusters_module_imports_jobs():
    offenders = {
        str(path.relative_to(APP.parent)): sorted(
            name for name in _imports(path) if name == "jobs" or name.startswith("jobs.")
        )
        for path in _modules(tests=False)
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_check_sees_imports():
    # A check that cannot fail proves nothing: it must find the imports it looks for.
    assert "clusters.selectors" in _imports(APP / "api.py")
    assert len(_modules(tests=False)) > 5


def test_clusters_tests_build_data_without_jobs_tests():
    offenders = {
        str(path.relative_to(APP.parent)): sorted(
            name for name in _imports(path) if name.startswith("jobs.tests")
        )
        for path in _modules(tests=True)
    }
    assert {path: names for path, names in offenders.items() if names} == {}

"""House style G1: ml never imports Django (or the platform), and only aggregation's contracts and metrics."""
import ast
from pathlib import Path

ML = Path(__file__).resolve().parents[2] / "ml"
FORBIDDEN = ("django", "rest_framework", "celery", "zooapp")
# The tree, the table contracts, the scores and the simulated crowd are shared; the aggregators are not ml's business.
ALLOWED_AGGREGATION = {"aggregation.schema", "aggregation.contracts", "aggregation.metrics", "aggregation.crowd"}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_it_keeps_ml_free_of_the_web_framework_and_of_the_engine_internals():
    for path in ML.rglob("*.py"):
        for name in _imports(path):
            assert name.split(".")[0] not in FORBIDDEN, f"{path} imports {name}"
            if name.startswith("aggregation"):
                assert name in ALLOWED_AGGREGATION, f"{path} imports {name}"

import ast
from pathlib import Path

import aggregation

FORBIDDEN = ("django", "rest_framework", "celery", "torch", "torchvision", "ml", "zooapp")


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_it_keeps_the_engine_free_of_web_frameworks_and_torch():
    package = Path(aggregation.__file__).parent
    offenders = {str(p.relative_to(package)): sorted(imported_roots(p) & set(FORBIDDEN))
                 for p in package.rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_it_never_seeds_numpys_global_random_state():
    package = Path(aggregation.__file__).parent
    assert not [p for p in package.rglob("*.py") if "np.random.seed" in p.read_text()]

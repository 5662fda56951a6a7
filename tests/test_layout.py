"""House rules that keep the code base in shape: import direction, small functions, registered static files."""
import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENGINE_USERS = ("zooapp/services/", "zooapp/tasks.py")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def python_files(package: str) -> list[Path]:
    return [p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]


def test_inside_zooapp_only_services_and_tasks_import_the_engines():
    offenders = [str(p.relative_to(ROOT)) for p in python_files("zooapp")
                 if imported_modules(p) & {"aggregation", "ml"}
                 and not str(p.relative_to(ROOT)).startswith(ENGINE_USERS)]
    assert offenders == []


def test_the_engines_never_import_the_web_framework():
    for package, banned in (("aggregation", {"django", "rest_framework", "celery", "torch", "ml", "zooapp"}),
                            ("ml", {"django", "rest_framework", "celery", "zooapp"})):
        offenders = {str(p.relative_to(ROOT)): imported_modules(p) & banned for p in python_files(package)}
        assert {k: v for k, v in offenders.items() if v} == {}


def long_functions(limit: int) -> list[str]:
    found = []
    for package in ("zooapp", "aggregation", "ml"):
        for path in python_files(package):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    length = node.end_lineno - node.lineno + 1
                    if length > limit:
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_grows_past_eighty_lines():
    assert long_functions(80) == []


def test_every_static_file_a_template_names_exists():
    missing = []
    for template in (ROOT / "templates").rglob("*.html"):
        for name in re.findall(r"{%\s*static\s+['\"]([^'\"]+)['\"]", template.read_text()):
            if not (ROOT / "static" / name).exists():
                missing.append(f"{template.relative_to(ROOT)} -> {name}")
    assert missing == []


def test_templates_bind_no_inline_handlers_or_styles():
    offenders = [str(t.relative_to(ROOT)) for t in (ROOT / "templates").rglob("*.html")
                 if re.search(r"\sonclick=|\sstyle=\"", t.read_text())]
    assert offenders == []


@pytest.mark.parametrize("name", re.findall(r'env_[a-z]+\("([A-Z_]+)"',
                                            (ROOT / "zooapp" / "settings.py").read_text()))
def test_every_setting_read_from_the_environment_is_listed_in_env_example(name):
    assert re.search(rf"^#?\s*{name}=", (ROOT / ".env.example").read_text(), re.M), name

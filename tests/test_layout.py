"""House rules that keep the code base in shape: import direction, small functions, registered static files."""
import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENGINE_USERS = ("zooapp/services/", "zooapp/tasks.py")
# Models read their JSON columns through the engine's pure value types, and nothing else of the engine.
VALUE_TYPES = {"zooapp/models/projects.py": {"aggregation.contracts", "aggregation.retirement"}}


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
                 and not str(p.relative_to(ROOT)).startswith(ENGINE_USERS)
                 and str(p.relative_to(ROOT)) not in VALUE_TYPES]
    assert offenders == []


def test_models_import_only_the_engines_value_types():
    for name, allowed in VALUE_TYPES.items():
        nodes = list(ast.walk(ast.parse((ROOT / name).read_text())))
        found = {n.module for n in nodes if isinstance(n, ast.ImportFrom) and n.module}
        found |= {a.name for n in nodes if isinstance(n, ast.Import) for a in n.names}
        assert {m for m in found if m.split(".")[0] in ("aggregation", "ml")} <= allowed, name


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


def test_no_function_grows_past_fifty_lines():
    assert long_functions(50) == []


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


def javascript_files() -> list[Path]:
    return sorted((ROOT / "static" / "js").rglob("*.js"))


def test_no_javascript_file_grows_past_four_hundred_lines():
    long_files = {str(p.relative_to(ROOT)): n for p in javascript_files() if (n := len(p.read_text().splitlines())) > 400}
    assert long_files == {}


def test_no_javascript_module_shares_state_through_window():
    # Modules share state through imports; a property set on window (or globalThis) is a hidden global.
    assignment = re.compile(r"\b(?:window|globalThis)(?:\s*(?:\.\s*[\w$]+|\[[^\]]+\]))+\s*"
                            r"(?:\*\*|\|\||&&|\?\?|<<|>>>?|[-+*/%|&^])?=(?!=)")
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in javascript_files()
                 for n, line in enumerate(p.read_text().splitlines(), 1) if assignment.search(line)]
    assert offenders == []


def test_browser_tests_wait_on_functions_never_on_expression_strings():
    # Playwright evaluates an expression string with eval() while it polls, which the site's CSP (no
    # 'unsafe-eval') refuses: such a wait passes when the condition already holds and fails when it must wait.
    call = re.compile(r"wait_for_function\(\s*f?[\"']([^\"']*)")
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in sorted((ROOT / "tests" / "browser").glob("*.py"))
                 for n, line in enumerate(p.read_text().splitlines(), 1)
                 if (m := call.search(line)) and not re.match(r"\s*(\([^)]*\)|\w+)\s*=>|\s*function\b", m[1])]
    assert offenders == []


@pytest.mark.parametrize("name", re.findall(r'env_[a-z]+\("([A-Z_]+)"',
                                            (ROOT / "zooapp" / "settings.py").read_text()))
def test_every_setting_read_from_the_environment_is_listed_in_env_example(name):
    assert re.search(rf"^#?\s*{name}=", (ROOT / ".env.example").read_text(), re.M), name

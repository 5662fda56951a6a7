"""House style G14 for the pages this folder tests: no inline handlers or styles, ES modules, one config blob."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = [ROOT / "templates" / "base.html", ROOT / "templates" / "zooapp" / "classify.html"]
SCRIPTS = sorted((ROOT / "static" / "js").rglob("*.js"))


def test_it_keeps_handlers_and_styles_out_of_the_templates():
    for path in TEMPLATES:
        html = path.read_text()
        assert not re.search(r"\son[a-z]+\s*=", html), f"{path.name} has an inline event handler"
        assert not re.search(r"\sstyle\s*=", html), f"{path.name} has an inline style"
        assert "<script>" not in html, f"{path.name} has an inline script"


def test_it_loads_the_page_script_as_a_module_with_its_config_from_json_script():
    html = (ROOT / "templates" / "zooapp" / "classify.html").read_text()
    assert re.findall(r"<script[^>]*>", html) == ['<script type="module" src="{% static \'js/classify/main.js\' %}">']
    assert '{{ config|json_script:"classify-config" }}' in html


def test_it_uses_no_var_and_no_global_handlers_in_the_scripts():
    for path in SCRIPTS:
        js = path.read_text()
        assert not re.search(r"^\s*var\s", js, re.M), f"{path.name} uses var"
        assert ".onclick" not in js and "innerHTML" not in js, f"{path.name} sets handlers or HTML by string"


def imports_of(path: Path) -> set[Path]:
    return {(path.parent / target).resolve() for target in re.findall(r'^import [^;]*? from "([^"]+)";', path.read_text(), re.M)}


def test_every_classify_module_says_what_it_owns_and_only_main_reads_the_config():
    modules = sorted((ROOT / "static" / "js" / "classify").glob("*.js"))
    assert len(modules) > 1, "the classify page is split into modules under static/js/classify"
    for path in modules:
        js = path.read_text()
        assert js.startswith(f"// classify/{path.name}: "), f"{path.name} needs a header saying what it owns"
        assert ("classify-config" in js) == (path.name == "main.js"), f"{path.name}: only main.js reads the config"


def test_the_script_modules_import_each_other_without_cycles():
    graph = {path.resolve(): imports_of(path) for path in SCRIPTS}
    assert all(target in graph for targets in graph.values() for target in targets), "an import names a missing file"
    done, trail = set(), []

    def visit(node):
        assert node not in trail, "import cycle: " + " -> ".join(p.name for p in trail[trail.index(node):] + [node])
        if node in done:
            return
        trail.append(node)
        for target in graph[node]:
            visit(target)
        trail.pop()
        done.add(node)

    for node in graph:
        visit(node)

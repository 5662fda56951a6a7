"""House style G14 for the pages this folder tests: no inline handlers or styles, ES modules, one config blob."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = [ROOT / "templates" / "base.html", ROOT / "templates" / "zooapp" / "classify.html"]
SCRIPTS = [ROOT / "static" / "js" / "classify.js", ROOT / "static" / "js" / "boxtool.js"]


def test_it_keeps_handlers_and_styles_out_of_the_templates():
    for path in TEMPLATES:
        html = path.read_text()
        assert not re.search(r"\son[a-z]+\s*=", html), f"{path.name} has an inline event handler"
        assert not re.search(r"\sstyle\s*=", html), f"{path.name} has an inline style"
        assert "<script>" not in html, f"{path.name} has an inline script"


def test_it_loads_the_page_script_as_a_module_with_its_config_from_json_script():
    html = (ROOT / "templates" / "zooapp" / "classify.html").read_text()
    assert '<script type="module" src="{% static \'js/classify.js\' %}">' in html
    assert '{{ config|json_script:"classify-config" }}' in html


def test_it_uses_no_var_and_no_global_handlers_in_the_scripts():
    for path in SCRIPTS:
        js = path.read_text()
        assert not re.search(r"^\s*var\s", js, re.M), f"{path.name} uses var"
        assert ".onclick" not in js and "innerHTML" not in js, f"{path.name} sets handlers or HTML by string"

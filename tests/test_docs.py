"""docs/ travels with the code and stays true to it: the guide names every operation of the
OpenAPI schema, each of its query parameters in that operation's section, and every error code."""

import re

import yaml

from core.schema import ERROR_CODES
from tests.live import ROOT

GUIDE = (ROOT / "docs" / "api-guide.md").read_text()
SCHEMA = yaml.safe_load((ROOT / "openapi.yaml").read_text())


def _section(heading: str) -> str:
    """The text under a ``### `GET /path` `` heading, up to the next heading."""
    start = GUIDE.index(heading)
    following = re.search(r"^#{2,3} ", GUIDE[start + len(heading) :], re.M)
    return GUIDE[start : start + len(heading) + (following.start() if following else len(GUIDE))]


def test_every_operation_has_a_section_naming_its_parameters():
    for path, operations in SCHEMA["paths"].items():
        for method, operation in operations.items():
            heading = f"### `{method.upper()} {path}`"
            assert heading in GUIDE, heading
            section = _section(heading)
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    assert f"`{parameter['name']}`" in section, (path, parameter["name"])
                    for value in parameter.get("schema", {}).get("enum", []):
                        assert f"`{value}`" in section, (path, parameter["name"], value)
            scope = operation.get("x-required-scope")
            for name in (scope or "").split(" | "):
                if name:
                    assert f"`{name}`" in GUIDE, name


def test_every_error_code_is_in_the_guide_with_its_status():
    table = GUIDE[GUIDE.index("| status | code | when |") :]
    for code in ERROR_CODES:
        assert re.search(rf"^\| \d{{3}} \| `{code}` \|", table, re.M), code


def test_every_link_between_the_docs_resolves():
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), (page.name, target)

"""SECURITY.md names the test that proves each defence: each one it names must exist."""

import re

from tests.live import ROOT


def test_every_test_security_md_cites_exists():
    text = (ROOT / "SECURITY.md").read_text()
    cited = re.findall(r"`(tests/[\w/]+\.py)((?:::\w+)?)`|(?:`|, )::(\w+)`", text)
    assert len(cited) > 15
    current = None
    for path, name, bare_name in cited:
        if path:
            current = ROOT / path
            assert current.exists(), path
        name = (name or "").removeprefix("::") or bare_name
        if name:
            assert re.search(rf"^def {name}\(", current.read_text(), re.M), f"{current}::{name}"

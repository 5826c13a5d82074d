import io

import pytest

from bench.generate import generate
from roleplay.models import Scorecard, Session
from tests.importing.lines import run_import


def _bytes(**kwargs) -> bytes:
    out = io.BytesIO()
    generate(out=out, **kwargs)
    return out.getvalue()


def test_same_seed_same_bytes():
    assert _bytes(sessions=200, tenants=3, seed=5) == _bytes(sessions=200, tenants=3, seed=5)
    assert _bytes(sessions=200, tenants=3, seed=5) != _bytes(sessions=200, tenants=3, seed=6)


@pytest.mark.django_db
def test_generated_data_imports_cleanly(tmp_path):
    path = tmp_path / "gen.jsonl"
    path.write_bytes(_bytes(sessions=400, tenants=4, seed=1))
    run_import(str(path))
    assert Session.unscoped.count() == 400
    scored = Session.unscoped.filter(status="scored").count()
    assert scored == Scorecard.unscoped.count()
    assert 0.7 < scored / 400 < 0.9

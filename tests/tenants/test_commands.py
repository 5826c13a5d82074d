import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tenants import tokens
from tenants.models import ApiToken

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_token_prints_the_raw_token_alone(tenant):
    out = _run(
        "create_token",
        "--tenant",
        "acme",
        "--name",
        "Looker",
        "--scopes",
        "sessions:read,users:read",
        "--expires-at",
        "2027-01-01T00:00:00Z",
    )
    raw = out.strip()
    assert out == raw + "\n" and tokens.is_well_formed(raw)
    token = ApiToken.objects.get(token_hash=tokens.hash_token(raw))
    assert token.tenant == tenant and token.name == "Looker"
    assert token.scopes == ["sessions:read", "users:read"]
    assert token.expires_at.isoformat() == "2027-01-01T00:00:00+00:00"


def test_create_token_all_scopes(tenant):
    raw = _run("create_token", "--tenant", "acme", "--name", "x", "--scopes", "all").strip()
    assert len(ApiToken.objects.get(token_hash=tokens.hash_token(raw)).scopes) == 6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tenant", "nope", "--name", "x", "--scopes", "sessions:read"], "unknown tenant"),
        (["--tenant", "acme", "--name", "x", "--scopes", "sessions:write"], "unknown scope"),
        (["--tenant", "acme", "--name", "x", "--scopes", ","], "at least one scope"),
        (
            ["--tenant", "acme", "--name", "x", "--scopes", "all", "--expires-at", "soon"],
            "ISO 8601",
        ),
    ],
)
def test_create_token_refuses_bad_input(tenant, args, message):
    with pytest.raises(CommandError, match=message):
        _run("create_token", *args)
    assert ApiToken.objects.count() == 0


def test_revoke_token_by_prefix(tenant):
    raw = _run("create_token", "--tenant", "acme", "--name", "x", "--scopes", "all").strip()
    out = _run("revoke_token", raw[:12])
    assert "Revoked" in out
    assert ApiToken.objects.get().revoked_at is not None


def test_revoke_token_without_a_shared_store_says_when_servers_see_it(tenant, settings):
    settings.API_TOKEN_CACHE_SECONDS = 60
    raw = _run("create_token", "--tenant", "acme", "--name", "x", "--scopes", "all").strip()
    err = io.StringIO()
    call_command("revoke_token", raw[:12], stdout=io.StringIO(), stderr=err)
    assert "no REDIS_URL" in err.getvalue() and "within 60 s" in err.getvalue()


def test_revoke_unknown_prefix_fails(tenant):
    with pytest.raises(CommandError, match="no token"):
        _run("revoke_token", "rpt_00000000")


BASE = ["create_token", "--tenant", "acme", "--scopes", "all"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "x", "--rate-limit", "99999999999999999999"], "--rate-limit: "),
        (["--name", "x", "--rate-limit", "4294967297"], "--rate-limit: "),
        (["--name", "x", "--rate-limit", "0"], "--rate-limit: "),
        (["--name", "x", "--expires-at", "9999-12-31T23:59:59-05:00"], "between years 1 and 9999"),
        (["--name", "x", "--expires-at", "0001-01-01T00:00:00+01:00"], "between years 1 and 9999"),
        (["--name", "x", "--expires-at", "2020-01-01"], "--expires-at: .*in the future"),
        (["--name", "n" * 201], "--name: "),
    ],
)
def test_create_token_refuses_what_admin_refuses(tenant, args, message):
    """A clear error, not a traceback or a silently changed value (found by a review)."""
    with pytest.raises(CommandError, match=message):
        _run(*BASE, *args)
    assert ApiToken.objects.count() == 0


def test_revoke_token_by_the_whole_token_revokes_that_token_only(tenant):
    raw = _run(*BASE, "--name", "x").strip()
    other = raw[:-1] + ("A" if raw[-1] != "A" else "B")  # same prefix, not a token
    with pytest.raises(CommandError, match="not a token"):
        _run("revoke_token", other)
    with pytest.raises(CommandError, match="not a token"):
        _run("revoke_token", raw + "x")
    assert ApiToken.objects.get().revoked_at is None
    assert "Revoked" in _run("revoke_token", raw)
    assert ApiToken.objects.get().revoked_at is not None


def test_create_token_replace_revokes_the_previous_token_of_that_name(tenant, other_tenant):
    first = _run("create_token", "--tenant", "acme", "--name", "demo", "--scopes", "all")
    kept = _run("create_token", "--tenant", "acme", "--name", "Looker", "--scopes", "all")
    theirs = _run("create_token", "--tenant", "globex", "--name", "demo", "--scopes", "all")
    second = _run(
        "create_token", "--tenant", "acme", "--name", "demo", "--scopes", "all", "--replace"
    )
    live = {t.prefix for t in ApiToken.objects.filter(revoked_at__isnull=True)}
    assert live == {second[:12], kept[:12], theirs[:12]}
    assert first[:12] not in live

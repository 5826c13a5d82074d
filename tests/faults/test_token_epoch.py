"""Which writes tell the servers' token caches (the token epoch, tenants/token_cache.py), and
what each costs when Redis is silent, through the fault proxy: a new token tells nothing, so a
Redis outage cannot lose it; a change, revocation or deletion tells once per transaction, so
deleting many tokens waits one retry period, not one per token; an import that renames a tenant
tells once, after its commit."""

from __future__ import annotations

import io
import re
import time

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core.cache import caches
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from core.redis import redis_client
from tenants import token_cache, tokens
from tenants.models import ApiToken, Tenant
from tenants.services import (
    tenant_delete,
    tenant_upsert,
    token_bulk_revoke,
    token_create,
    token_delete,
    token_revoke,
    token_save,
)
from tests.helpers import REDIS_URL, redis_store
from tests.importing import lines as L

pytestmark = pytest.mark.django_db(transaction=True)  # commits: the bump runs after one

OUTAGES = ["refuse", "hang"]


@pytest.fixture
def bumps(monkeypatch) -> list[float]:
    """Each bump of the token epoch, as it happens (the real one runs too)."""
    calls: list[float] = []
    real = token_cache.bump

    def spy(**kwargs):
        calls.append(time.monotonic())
        return real(**kwargs)

    monkeypatch.setattr(token_cache, "bump", spy)
    return calls


@pytest.fixture
def operator(client):
    client.force_login(User.objects.create_superuser("op", "op@example.test", "pw"))
    return client


@pytest.fixture
def shared_store(settings):
    with redis_store(settings, location=REDIS_URL, timeout=1):
        yield


def epoch() -> bytes | None:
    cache = caches[django_settings.API_RATE_LIMIT_CACHE]
    key = cache.make_and_validate_key(token_cache.TOKEN_EPOCH_KEY)
    return redis_client(cache).get(key)


def shown(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# -- a new token ------------------------------------------------------------------------------


@pytest.mark.parametrize("outage", OUTAGES)
def test_admin_shows_a_token_created_during_a_redis_outage(
    redis_proxy, outage, operator, tenant, bumps
):
    redis_proxy.set(outage)
    started = time.monotonic()
    response = operator.post(
        "/admin/tenants/apitoken/add/",
        {"tenant": tenant.pk, "name": "Looker", "scopes": ["sessions:read"]},
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 200  # the page with the token, not a redirect to an error
    assert "no-store" in response["Cache-Control"]
    found = re.findall(r"rpt_[0-9A-Za-z]{38}", response.content.decode())
    assert found and set(found) == {found[0]}
    assert ApiToken.objects.get().token_hash == tokens.hash_token(found[0])
    assert bumps == []
    assert elapsed < django_settings.API_TOKEN_EPOCH_RETRY_SECONDS / 2  # no retries waited


@pytest.mark.parametrize("outage", OUTAGES)
def test_create_token_during_a_redis_outage(redis_proxy, outage, tenant, bumps):
    redis_proxy.set(outage)
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "create_token", "--tenant", "acme", "--name", "Looker", "--scopes", "all",
        stdout=out, stderr=err,
    )  # fmt: skip
    raw = out.getvalue().strip()
    assert tokens.is_well_formed(raw)
    assert ApiToken.objects.get().token_hash == tokens.hash_token(raw)
    assert err.getvalue() == ""
    assert bumps == []


def test_create_token_replacing_nothing_during_a_redis_outage(redis_proxy, tenant, bumps):
    """bin/demo's first run: --replace finds no token of that name, so there is nothing to tell
    the servers and nothing to fail on."""
    redis_proxy.set("refuse")
    out = io.StringIO()
    call_command(
        "create_token", "--tenant", "acme", "--name", "demo", "--scopes", "all", "--replace",
        stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    assert tokens.is_well_formed(out.getvalue().strip())
    assert bumps == []


def test_create_token_replacing_a_live_token_during_a_redis_outage_still_shows_the_new_one(
    redis_proxy, tenant, settings
):
    """The old token is revoked in the database but the servers were not told: the command
    fails loudly, after printing the new token (its only copy)."""
    settings.API_TOKEN_EPOCH_RETRY_SECONDS = 0.3
    old, _raw = token_create(tenant=tenant, name="demo", scopes=["sessions:read"])
    redis_proxy.set("refuse")
    out = io.StringIO()
    with pytest.raises(CommandError, match="new token is made and printed above"):
        call_command(
            "create_token", "--tenant", "acme", "--name", "demo", "--scopes", "all", "--replace",
            stdout=out, stderr=io.StringIO(),
        )  # fmt: skip
    raw = out.getvalue().strip()
    assert tokens.is_well_formed(raw)
    assert ApiToken.objects.get(token_hash=tokens.hash_token(raw)).revoked_at is None
    old.refresh_from_db()
    assert old.revoked_at is not None


def test_only_changes_to_stored_tokens_and_tenants_bump(tenant, bumps):
    token, _raw = token_create(tenant=tenant, name="Looker", scopes=["sessions:read"])
    assert bumps == []
    added = ApiToken(tenant=tenant, name="admin's", scopes=["sessions:read"])
    added.set_raw_token(tokens.generate())
    token_save(token=added)  # admin's add
    new_tenant = tenant_upsert(tenant=Tenant(slug="initech", name="Initech"))
    assert bumps == []

    token.scopes = ["users:read"]
    token_save(token=token)
    assert len(bumps) == 1
    token_revoke(token=token)
    assert len(bumps) == 2
    token_bulk_revoke(tokens=ApiToken.objects.filter(name="nothing of this name"))
    assert len(bumps) == 2
    token_bulk_revoke(tokens=ApiToken.objects.filter(pk=token.pk))  # revoked: told again
    assert len(bumps) == 3
    token_delete(token=token)
    assert len(bumps) == 4
    tenant.name = "Acme Homes"
    tenant_upsert(tenant=tenant)
    assert len(bumps) == 5
    tenant_delete(tenant=new_tenant)
    assert len(bumps) == 6


# -- deleting many tokens ---------------------------------------------------------------------


def delete_selected(client, ids):
    return client.post(
        "/admin/tenants/apitoken/",
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
        follow=True,
    )


def test_admin_deletes_many_tokens_with_one_bump(shared_store, operator, tenant, make_token, bumps):
    for _ in range(5):
        make_token(tenant)
    response = delete_selected(operator, [t.pk for t in ApiToken.objects.all()])
    assert response.status_code == 200
    assert any("Successfully deleted 5" in m for m in shown(response)), shown(response)
    assert not ApiToken.objects.exists()
    assert len(bumps) == 1


def test_admin_deletes_many_tokens_in_a_redis_outage_in_one_retry_period(
    redis_proxy, operator, tenant, make_token, bumps, settings
):
    settings.API_TOKEN_EPOCH_RETRY_SECONDS = 1
    for _ in range(5):
        make_token(tenant)
    redis_proxy.set("hang")
    started = time.monotonic()
    response = delete_selected(operator, [t.pk for t in ApiToken.objects.all()])
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert any("the API servers were not told" in m for m in shown(response)), shown(response)
    assert not any(m.startswith("Successfully") for m in shown(response)), shown(response)
    assert not ApiToken.objects.exists()  # all of them, in the one transaction
    assert len(bumps) == 1
    assert 1 <= elapsed < 3, elapsed  # one retry period; one per token was 5 s and up


# -- an import that renames a tenant ----------------------------------------------------------


def import_lines(tmp_path, records) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_data", L.write_file(tmp_path, records), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_an_import_that_renames_a_tenant_bumps_once(shared_store, tmp_path, bumps):
    import_lines(tmp_path, [L.tenant(L.ACME), L.tenant(L.GLOBEX)])
    assert bumps == []  # new tenants: no token can be cached for them
    tenant = Tenant.objects.get(id=L.ACME)
    _token, raw = token_create(tenant=tenant, name="Looker", scopes=["sessions:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/token").json()["data"]["tenant"]["name"] == "Acme Realty"
    assert client.get("/api/v1/token").status_code == 200  # now served from the cache
    before = epoch()
    assert before is not None

    renamed = [L.tenant(L.ACME, name="Acme Homes"), L.tenant(L.GLOBEX, name="Globex Realty")]
    # Several batches, each renaming a tenant: still one bump, after the commit.
    call_command(
        "import_data",
        L.write_file(tmp_path, renamed),
        "--batch-size",
        "1",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert len(bumps) == 1
    assert epoch() != before
    assert client.get("/api/v1/token").json()["data"]["tenant"]["name"] == "Acme Homes"

    after = epoch()
    out, err = import_lines(tmp_path, renamed)  # the same file again: nothing changes
    assert out.startswith("Imported 2 tenants") and err == ""
    assert len(bumps) == 1
    assert epoch() == after


def test_an_import_that_changes_a_tenants_time_zone_bumps_once_like_a_rename(
    shared_store, tmp_path, bumps
):
    import_lines(tmp_path, [L.tenant(L.ACME, time_zone="Europe/London")])
    tenant = Tenant.objects.get(id=L.ACME)
    _token, raw = token_create(tenant=tenant, name="Looker", scopes=["sessions:read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/token").json()["data"]["tenant"]["time_zone"] == "Europe/London"
    assert client.get("/api/v1/token").status_code == 200  # now served from the cache
    before = epoch()

    moved = [L.tenant(L.ACME, time_zone="America/Chicago")]  # same name and slug
    out, err = import_lines(tmp_path, moved)
    assert out.startswith("Imported 1 tenant") and err == ""
    assert len(bumps) == 1
    assert epoch() != before
    assert client.get("/api/v1/token").json()["data"]["tenant"]["time_zone"] == "America/Chicago"

    after = epoch()
    import_lines(tmp_path, moved)  # the same file again: nothing changes, nothing told
    assert len(bumps) == 1 and epoch() == after
    import_lines(tmp_path, [L.tenant(L.ACME)])  # no time_zone: back to UTC, a change
    assert len(bumps) == 2
    assert client.get("/api/v1/token").json()["data"]["tenant"]["time_zone"] == "UTC"


def test_a_rename_by_import_or_dry_run_that_is_rolled_back_does_not_bump(
    shared_store, tmp_path, bumps
):
    import_lines(tmp_path, [L.tenant(L.ACME)])
    renamed = L.tenant(L.ACME, name="Acme Homes")
    call_command(
        "import_data",
        L.write_file(tmp_path, [renamed]),
        "--dry-run",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert L.run_import_failing(L.write_file(tmp_path, [renamed, {"type": "nope"}]))
    assert Tenant.objects.get().name == "Acme Realty"
    assert bumps == []


def test_an_import_that_renames_a_tenant_in_a_redis_outage_is_kept_and_says_so(
    redis_proxy, tmp_path, bumps, settings
):
    import_lines(tmp_path, [L.tenant(L.ACME)])
    settings.API_TOKEN_EPOCH_RETRY_SECONDS = 0.5
    redis_proxy.set("refuse")
    out, err = import_lines(tmp_path, [L.tenant(L.ACME, name="Acme Homes")])
    assert out.startswith("Imported 1 tenant ")
    assert "Redis did not answer, so the API servers were not told" in err
    assert Tenant.objects.get().name == "Acme Homes"
    assert len(bumps) == 1

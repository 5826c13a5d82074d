"""Operators work in Django admin: every model is listed, and a new token is shown once."""

import re

import pytest
from django.contrib.auth.models import User

from tenants import tokens
from tenants.models import ApiToken, Tenant
from tests.factories import ScorecardFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    admin = User.objects.create_superuser("op", "op@example.test", "pw")
    client.force_login(admin)
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/admin/tenants/tenant/",
        "/admin/roleplay/rep/?role__exact=rep",
        "/admin/tenants/apitoken/",
        "/admin/roleplay/scenario/?status__exact=active",
        "/admin/roleplay/session/?q=Rep",
        "/admin/roleplay/scorecard/",
        "/admin/roleplay/tenantday/",
        "/admin/roleplay/scenarioday/",
    ],
)
def test_changelists_render(staff_client, url):
    card = ScorecardFactory()
    response = staff_client.get(url)
    assert response.status_code == 200
    if "session" in url or "scorecard" in url or "day" in url:
        assert card.tenant.name in response.content.decode()


def test_session_page_shows_the_transcript_read_only(staff_client):
    card = ScorecardFactory()
    response = staff_client.get(f"/admin/roleplay/session/{card.session.pk}/change/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Hi, it’s Jordan from Acme — got a minute?" in body
    assert 'name="transcript"' not in body


def test_new_token_is_shown_once(staff_client, tenant):
    response = staff_client.post(
        "/admin/tenants/apitoken/add/",
        {"tenant": tenant.pk, "name": "Looker", "scopes": ["sessions:read", "users:read"]},
    )
    assert response.status_code == 200
    raw = re.search(r"rpt_[0-9A-Za-z]{38}", response.content.decode()).group(0)
    token = ApiToken.objects.get()
    assert token.token_hash == tokens.hash_token(raw)
    assert token.scopes == ["sessions:read", "users:read"]
    assert "no-store" in response["Cache-Control"]

    again = staff_client.get(f"/admin/tenants/apitoken/{token.pk}/change/").content.decode()
    listing = staff_client.get("/admin/tenants/apitoken/").content.decode()
    assert raw not in again and raw not in listing
    assert token.prefix in listing


def test_a_tenant_with_data_cannot_be_deleted_and_its_page_is_cheap(staff_client, tenant):
    """Deactivate instead: the delete page used to load every row (found by a review)."""

    ScorecardFactory(session__tenant=tenant)
    page = staff_client.get(f"/admin/tenants/tenant/{tenant.pk}/delete/")
    assert page.status_code == 403
    listing = staff_client.get("/admin/tenants/tenant/").content.decode()
    assert "delete_selected" not in listing
    empty = Tenant.objects.create(slug="empty", name="Made by mistake")
    assert (
        staff_client.post(f"/admin/tenants/tenant/{empty.pk}/delete/", {"post": "yes"}).status_code
        == 302
    )
    assert not Tenant.objects.filter(pk=empty.pk).exists()

"""Operators work in Django admin: every model is listed, and a new token is shown once."""

import re
import zoneinfo

import pytest
from django.contrib.auth.models import User
from hypothesis import given
from hypothesis import strategies as st

from tenants import tokens
from tenants.models import ApiToken, Tenant, is_time_zone
from tests.factories import ScorecardFactory
from tests.helpers import db_property

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
        "/admin/roleplay/repbucket/?unit__exact=week",
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


# -- a tenant's time zone -------------------------------------------------------------------------


def tenant_form(tenant: Tenant, **changes) -> dict:
    return {
        "slug": tenant.slug,
        "name": tenant.name,
        "time_zone": tenant.time_zone,
        "is_active": "on",
        **changes,
    }


def test_admin_edits_a_tenants_time_zone(staff_client, tenant):
    url = f"/admin/tenants/tenant/{tenant.pk}/change/"
    page = staff_client.get(url).content.decode()
    assert 'name="time_zone"' in page and 'value="UTC"' in page
    assert '<option value="America/New_York">' in page  # offered as the operator types
    response = staff_client.post(url, tenant_form(tenant, time_zone="America/New_York"))
    assert response.status_code == 302, response.content.decode()[:2000]
    tenant.refresh_from_db()
    assert tenant.time_zone == "America/New_York"
    assert "America/New_York" in staff_client.get("/admin/tenants/tenant/").content.decode()


@pytest.mark.parametrize(
    "value",
    ["Mars/Olympus_Mons", "america/new_york", "localtime", "../../etc/passwd", "UTC\x00", ""],
)
def test_admin_refuses_an_unknown_time_zone_on_the_field(staff_client, tenant, value):
    url = f"/admin/tenants/tenant/{tenant.pk}/change/"
    response = staff_client.post(url, tenant_form(tenant, time_zone=value, name="Renamed"))
    assert response.status_code == 200  # the form again, with its error
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["time_zone"], errors
    tenant.refresh_from_db()
    assert (tenant.name, tenant.time_zone) == ("Acme Realty", "UTC")


def test_admin_adds_a_tenant_in_utc_unless_told(staff_client):
    form = {"slug": "initech", "name": "Initech", "time_zone": "UTC", "is_active": "on"}
    assert staff_client.post("/admin/tenants/tenant/add/", form).status_code == 302
    assert Tenant.objects.get(slug="initech").time_zone == "UTC"
    assert staff_client.get("/admin/tenants/tenant/add/").status_code == 200


@db_property(150)
@given(
    value=st.one_of(
        st.text(max_size=80),
        st.sampled_from(sorted(zoneinfo.available_timezones())),
        st.sampled_from(["America", "right/UTC", "posixrules", "Etc/../UTC", "a" * 5000]),
    )
)
def test_any_time_zone_typed_in_admin_is_saved_or_refused_never_a_server_error(
    staff_client, tenant, value
):
    url = f"/admin/tenants/tenant/{tenant.pk}/change/"
    response = staff_client.post(url, tenant_form(tenant, time_zone=value))
    tenant.refresh_from_db()
    if response.status_code == 302:
        assert is_time_zone(tenant.time_zone) and tenant.time_zone == value.strip()
    else:
        assert response.status_code == 200
        assert "time_zone" in response.context["adminform"].form.errors

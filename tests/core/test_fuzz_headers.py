"""Whatever arrives in Authorization and X-Request-ID, the answer is never a 500."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from core.request_id import SANE_REQUEST_ID
from tenants import tokens
from tests.helpers import db_property

pytestmark = pytest.mark.django_db

# Header values as a WSGI server hands them over: latin-1 text without line breaks.
header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=200)
authorization = st.one_of(
    header_text,
    header_text.map(lambda s: f"Bearer {s}"),
    st.builds(lambda t, s: f"Bearer {t}{s}", st.just("rpt_"), header_text),
    st.builds(lambda _: f"Bearer {tokens.generate()}", st.none()),
)


@db_property(300)
@given(auth=authorization, request_id=st.one_of(st.none(), header_text))
def test_headers_never_cause_a_server_error(tenant, settings, auth, request_id):
    settings.API_FAILED_AUTH_PER_MINUTE = 10**9
    headers = {"HTTP_AUTHORIZATION": auth}
    if request_id is not None:
        headers["HTTP_X_REQUEST_ID"] = request_id
    response = APIClient().get("/api/v1/token", **headers)
    assert response.status_code == 401
    assert response.json()["code"] in {"not_authenticated", "invalid_token"}
    echoed = response["X-Request-ID"]
    assert SANE_REQUEST_ID.match(echoed)
    if request_id is not None and SANE_REQUEST_ID.match(request_id):
        assert echoed == request_id


def test_a_request_id_with_a_line_break_is_not_sane():
    assert SANE_REQUEST_ID.match("abc-123")
    assert not SANE_REQUEST_ID.match("abc-123\n")  # `$` would match before the newline

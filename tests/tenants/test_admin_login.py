"""Admin sign-in is throttled per client address and per username (django-axes), and admin can
live at a path of the operator's choosing."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.live import gunicorn, manage, server_env

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"


@pytest.fixture
def operator(settings):
    settings.AXES_FAILURE_LIMIT = 3
    return User.objects.create_superuser("op", "op@example.test", "right-password")


def attempt(client: Client, username: str, password: str, address: str) -> int:
    response = client.post(
        f"{LOGIN}?next=/admin/",
        {"username": username, "password": password},
        REMOTE_ADDR=address,
    )
    return response.status_code


def test_a_client_guessing_passwords_is_locked_out_even_with_the_right_one(operator):
    client = Client()
    codes = [attempt(client, "op", f"guess-{n}", "10.0.0.1") for n in range(3)]
    assert codes == [200, 200, 429]  # the form again twice, then refused
    assert attempt(client, "op", "right-password", "10.0.0.1") == 429
    # Another address, another username: not this client's lockout.
    User.objects.create_superuser("other", "o@example.test", "pw-other")
    assert attempt(Client(), "other", "pw-other", "10.0.0.2") == 302


def test_a_username_under_attack_from_many_addresses_is_locked_out(operator):
    codes = [attempt(Client(), "op", f"guess-{n}", f"10.0.1.{n}") for n in range(3)]
    assert codes[-1] == 429
    assert attempt(Client(), "op", "right-password", "10.0.1.99") == 429


def test_a_success_resets_the_count(operator):
    client = Client()
    assert attempt(client, "op", "wrong", "10.0.2.1") == 200
    assert attempt(client, "op", "right-password", "10.0.2.1") == 302
    assert [attempt(Client(), "op", "wrong", "10.0.2.1") for _ in range(2)] == [200, 200]


def test_admin_can_move_to_a_path_of_the_operators_choosing(tmp_path):
    env = server_env(DATABASE_URL=f"sqlite:///{tmp_path}/a.sqlite3", ADMIN_URL_PATH="ops-7f3/")
    manage(env, "migrate", "--noinput", "-v0")
    with gunicorn(env) as base:
        with urllib.request.urlopen(f"{base}/ops-7f3/login/", timeout=5) as response:
            assert response.status == 200
        with pytest.raises(urllib.error.HTTPError) as gone:
            urllib.request.urlopen(f"{base}/admin/login/", timeout=5)
        assert gone.value.code == 404
        assert gone.value.headers["Content-Type"] == "application/json"
        # Found by a review: the public front page linked to the moved admin.
        with urllib.request.urlopen(f"{base}/", timeout=5) as response:
            front = response.read().decode()
        assert "ops-7f3" not in front and "Admin</a>" not in front
        assert "/api/v1/docs" in front

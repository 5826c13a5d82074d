"""The wire shape of GET /token: the calling token and its tenant."""

from __future__ import annotations

from types import SimpleNamespace

from core import shapes as f

from .models import DEFAULT_TIME_ZONE
from .scopes import ALL_SCOPES

# Shown by GET /token alone: another operation naming a tenant gets a shape of its own.
TENANT_REF = f.Shape(
    "TenantRef",
    f.uuid("id"),
    f.text("name"),
    f.text(
        "time_zone",
        help_text="The tenant's IANA time zone name, such as America/New_York; UTC by default.",
    ),
)

TOKEN_INFO = f.Shape(
    "TokenInfo",
    f.text("name"),
    f.text("prefix"),
    f.nested("tenant", TENANT_REF),
    f.choice_list("scopes", ALL_SCOPES),
    f.timestamp("created_at"),
    f.timestamp("expires_at", null=True),
    f.timestamp("last_used_at", null=True),
)


def token_example(demo, tenant_id: str) -> dict:
    tenant = next(t for t in demo["tenant"] if t["id"] == tenant_id)
    return {
        "ok": True,
        "data": TOKEN_INFO.from_values(
            {
                "name": "Looker",
                "prefix": "rpt_AbCd1234",
                # A nested shape renders an object, as it does a Tenant.
                "tenant": SimpleNamespace(
                    id=tenant["id"],
                    name=tenant["name"],
                    time_zone=tenant.get("time_zone") or DEFAULT_TIME_ZONE,
                ),
                "scopes": ["sessions:read", "scorecards:read"],
                "created_at": "2026-05-01T09:00:00Z",
                "expires_at": None,
                "last_used_at": "2026-05-06T17:00:00Z",
            }
        ),
    }

"""The wire shape of GET /token: the calling token and its tenant."""

from __future__ import annotations

from api import shapes as f

from .models import DeletionKind
from .scopes import ALL_SCOPES

TENANT_REF = f.Shape("TenantRef", f.uuid("id"), f.text("name"))

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

DELETION = f.Shape(
    "Deletion",
    f.choice("object", DeletionKind),
    f.uuid("id", source="object_id"),
    f.timestamp("deleted_at"),
)


def deletion_page_example(demo, tenant_id: str) -> dict:
    session = next(s for s in demo["session"] if s["tenant_id"] == tenant_id)
    return {
        "ok": True,
        "data": [
            DELETION.from_values(
                {"object": "session", "id": session["id"], "deleted_at": "2026-05-07T09:00:00Z"}
            )
        ],
        "next_cursor": None,
    }

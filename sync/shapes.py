"""The wire shape of a deletion (GET /api/v1/deletions)."""

from __future__ import annotations

from core import shapes as f

from .models import DeletionKind

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

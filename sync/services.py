"""Every write of the change clock's own rows: the tombstones of GET /api/v1/deletions, and the
``updated_at`` stamp of a row saved one at a time. The domain's services call these in their
own transactions."""

from __future__ import annotations

import uuid
from datetime import datetime

from tenants.models import TenantOwned
from tenants.services import stored_values

from .clock import change_stamp
from .models import Deletion


def stamp_if_changed(*, row: TenantOwned, fields: tuple[str, ...]) -> bool:
    """Sets ``row.updated_at`` for a save in progress: the change stamp when the row is new or
    one of ``fields`` (what the API shows of it) differs from the stored row, else the stored
    ``updated_at``, so that saving an unchanged form moves nothing. Inside the transaction.
    Returns whether it is a change (a new row, or a field differs)."""
    attnames = [type(row)._meta.get_field(name).attname for name in fields]
    stored = stored_values(row=row, fields=(*attnames, "updated_at"))
    if stored is not None and all(stored[a] == getattr(row, a) for a in attnames):
        row.updated_at = stored["updated_at"]
        return False
    row.updated_at = change_stamp()
    return True


def deletions_record(
    *, kind: str, owners: list[tuple[uuid.UUID, uuid.UUID]], stamp: datetime
) -> None:
    """Tombstones for these (tenant_id, id) of one kind, in the deleting transaction. A record
    deleted again (created anew in between) gets its new deletion time."""
    Deletion.unscoped.bulk_create(
        [Deletion(tenant_id=t, object=kind, object_id=i, deleted_at=stamp) for t, i in owners],
        update_conflicts=True,
        unique_fields=["object", "object_id", "tenant"],
        update_fields=["deleted_at"],
    )


def deletions_forget(*, kind: str, owners: list[tuple[uuid.UUID, uuid.UUID]]) -> None:
    """These (tenant_id, id) exist (again): their creation, stamped now, supersedes their
    tenant's old tombstone. Only their own tenant's: an id another tenant deleted stays listed
    in that tenant's feed."""
    by_tenant: dict[uuid.UUID, list[uuid.UUID]] = {}
    for tenant_id, object_id in owners:
        by_tenant.setdefault(tenant_id, []).append(object_id)
    for tenant_id, ids in by_tenant.items():
        for start in range(0, len(ids), 900):
            Deletion.unscoped.filter(
                tenant_id=tenant_id, object=kind, object_id__in=ids[start : start + 900]
            ).delete()


def deletions_prune(*, before: datetime) -> int:
    """Forgets deletions older than ``before``; returns how many."""
    removed, _ = Deletion.unscoped.filter(deleted_at__lt=before).delete()
    return removed

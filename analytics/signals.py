"""Rollups and rep spans follow ORM writes of sessions and scorecards (admin, factories, shell).

The importer writes in bulk and recomputes once per import itself; these cover single saves.
"""

from collections import defaultdict

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from scorecards.models import Scorecard
from sessions_api.models import Session

from . import rollups


@receiver(pre_save, sender=Session)
def _remember_old_day(sender, instance: Session, **kwargs) -> None:
    instance._rollup_before = (
        Session.unscoped.filter(pk=instance.pk)
        .values_list("tenant_id", "started_at", "user_id")
        .first()
        if instance.pk
        else None
    )


@receiver(post_save, sender=Session)
@receiver(post_delete, sender=Session)
def _session_changed(sender, instance: Session, **kwargs) -> None:
    keys = rollups.new_keys()
    reps: rollups.RepKeys = defaultdict(set)
    before = getattr(instance, "_rollup_before", None)
    if before is not None:
        tenant_id, started_at, user_id = before
        rollups.collect(keys, tenant_id, started_at)
        reps[tenant_id].add(user_id)
    rollups.collect(keys, instance.tenant_id, instance.started_at)
    reps[instance.tenant_id].add(instance.user_id)
    rollups.recompute(keys)
    rollups.recompute_spans(reps)


@receiver(post_save, sender=Scorecard)
@receiver(post_delete, sender=Scorecard)
def _scorecard_changed(sender, instance: Scorecard, **kwargs) -> None:
    session = (
        Session.unscoped.filter(pk=instance.session_id).values_list("tenant_id", "started_at")
    ).first()
    if session is not None:  # gone already when the scorecard goes with its session
        keys = rollups.new_keys()
        rollups.collect(keys, *session)
        rollups.recompute(keys)

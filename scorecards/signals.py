"""A session is scored exactly when it has a scorecard, however the scorecard is written
(admin, shell). The importer sets the status itself, in bulk."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from sessions_api.models import Session

from .models import Scorecard


@receiver(post_save, sender=Scorecard)
def _scored(sender, instance: Scorecard, **kwargs) -> None:
    Session.unscoped.filter(pk=instance.session_id).exclude(status=Session.Status.SCORED).update(
        status=Session.Status.SCORED
    )


@receiver(post_delete, sender=Scorecard)
def _no_longer_scored(sender, instance: Scorecard, **kwargs) -> None:
    # A scored call was completed; without its scorecard it is completed, not scored yet.
    Session.unscoped.filter(pk=instance.session_id, status=Session.Status.SCORED).update(
        status=Session.Status.COMPLETED
    )

"""Factories for the data model. Every tenant-owned factory keeps its references in one tenant,
and creates its row through the app's service, as admin and the importer do: the rollups and a
session's status follow as they do in production."""

from datetime import UTC, datetime, timedelta

import factory

from roleplay.models import Rep, Scenario, Scorecard, Session
from roleplay.scoring import scorecard_upsert
from roleplay.services import rep_upsert, scenario_upsert, session_upsert
from tenants.models import Tenant
from tenants.services import tenant_upsert

BASE_TIME = datetime(2026, 5, 6, 17, 0, tzinfo=UTC)


SERVICES = {
    Tenant: tenant_upsert,
    Rep: rep_upsert,
    Scenario: scenario_upsert,
    Session: session_upsert,
    Scorecard: scorecard_upsert,
}


class ServiceFactory(factory.django.DjangoModelFactory):
    """Creates through the model's upsert service instead of ``Model.objects.create``."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        service = SERVICES[model_class]
        return service(**{model_class._meta.model_name: model_class(*args, **kwargs)})


class TenantFactory(ServiceFactory):
    class Meta:
        model = Tenant

    slug = factory.Sequence(lambda n: f"tenant-{n}")
    name = factory.Sequence(lambda n: f"Tenant {n}")


class RepFactory(ServiceFactory):
    class Meta:
        model = Rep

    tenant = factory.SubFactory(TenantFactory)
    full_name = factory.Sequence(lambda n: f"Rep {n:04d}")
    email = factory.Sequence(lambda n: f"rep{n}@example.test")
    role = Rep.Role.REP


class ScenarioFactory(ServiceFactory):
    class Meta:
        model = Scenario

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Scenario {n:04d}")
    call_type = "cold_call"
    status = Scenario.Status.ACTIVE
    created_at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class SessionFactory(ServiceFactory):
    class Meta:
        model = Session

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(RepFactory, tenant=factory.SelfAttribute("..tenant"))
    scenario = factory.SubFactory(ScenarioFactory, tenant=factory.SelfAttribute("..tenant"))
    status = Session.Status.COMPLETED
    started_at = factory.Sequence(lambda n: BASE_TIME - timedelta(minutes=n))
    ended_at = factory.LazyAttribute(lambda o: o.started_at + timedelta(seconds=420))
    duration_seconds = 420
    created_at = factory.SelfAttribute("started_at")
    transcript = factory.LazyFunction(
        lambda: [
            {"role": "agent", "message": "Hello? Who’s this?", "time": 0},
            {"role": "user", "message": "Hi, it’s Jordan from Acme — got a minute?", "time": 2.5},
        ]
    )


class ScorecardFactory(ServiceFactory):
    class Meta:
        model = Scorecard

    session = factory.SubFactory(SessionFactory, status=Session.Status.SCORED)
    tenant = factory.SelfAttribute("session.tenant")
    overall_score = 80
    verdict = Scorecard.Verdict.SOLID
    headline = "Good discovery, rushed close."
    categories = factory.LazyFunction(
        lambda: [{"key": "discovery", "label": "Discovery", "score": 82, "feedback": "Good."}]
    )
    callouts = factory.LazyFunction(
        lambda: [{"kind": "strength", "text": "Reframed the objection.", "time": 2.5}]
    )
    created_at = factory.LazyAttribute(lambda o: o.session.started_at + timedelta(minutes=8))

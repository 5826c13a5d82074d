from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from tenants.models import Tenant, TenantOwned
from tenants.scoping import TenantScopedManager

from .scorecard_rules import scorecard_item_problems


class RepRole(models.TextChoices):
    REP = "rep", "Rep"
    MANAGER = "manager", "Manager"
    ADMIN = "admin", "Admin"


class Rep(TenantOwned):
    """A person of the tenant who trains: the API calls them users."""

    Role = RepRole

    full_name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254, blank=True, default="")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.REP)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the user as the API shows it last changed: stamped by the services (sync/clock.py).
    updated_at = models.DateTimeField(editable=False)

    class Meta(TenantOwned.Meta):
        db_table = "tenants_rep"  # its table since before roleplay held it
        verbose_name = "user (rep)"
        verbose_name_plural = "users (reps)"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "id"], name="rep_tenant_id_uniq"),
            models.CheckConstraint(condition=Q(role__in=RepRole.values), name="rep_role_valid"),
        ]
        indexes = [
            models.Index(fields=["tenant", "full_name", "id"], name="rep_tenant_name_idx"),
            models.Index(fields=["tenant", "role", "full_name", "id"], name="rep_tenant_role_idx"),
            models.Index(fields=["tenant", "updated_at", "id"], name="rep_updated_idx"),
        ]

    def __str__(self) -> str:
        return self.full_name


# Module-level so that the models' Meta (a nested class, blind to the model's own names) can
# name the values in the CHECK constraints.
class ScenarioStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ARCHIVED = "archived", "Archived"


class SessionStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed (not scored yet)"
    SCORED = "scored", "Scored"
    ABANDONED = "abandoned", "Abandoned"
    FAILED = "failed", "Failed"


class Scenario(TenantOwned):
    Status = ScenarioStatus

    name = models.CharField(max_length=200)
    call_type = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField()
    # When it last changed as the API shows it: stamped by the services (sync/clock.py).
    updated_at = models.DateTimeField(editable=False)

    class Meta(TenantOwned.Meta):
        db_table = "sessions_api_scenario"  # its table since before roleplay held it
        constraints = [
            models.UniqueConstraint(fields=["tenant", "id"], name="scenario_tenant_id_uniq"),
            models.CheckConstraint(
                condition=Q(status__in=ScenarioStatus.values), name="scenario_status_valid"
            ),
        ]
        indexes = [
            # The list order: active first, then by name, then id.
            models.Index(fields=["tenant", "status", "name", "id"], name="scenario_list_idx"),
            models.Index(fields=["tenant", "updated_at", "id"], name="scenario_updated_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class Session(TenantOwned):
    """One AI role-play call of a rep, with its transcript."""

    Status = SessionStatus

    user = models.ForeignKey(Rep, on_delete=models.PROTECT, related_name="sessions")
    scenario = models.ForeignKey(Scenario, on_delete=models.PROTECT, related_name="sessions")
    status = models.CharField(max_length=16, choices=Status.choices)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    # A list of {"role": "agent" | "user", "message": str, "time": seconds}, in spoken order.
    transcript = models.JSONField(default=list, blank=True)
    # When it last changed as the API shows it: stamped by the services (sync/clock.py).
    updated_at = models.DateTimeField(editable=False)

    class Meta(TenantOwned.Meta):
        db_table = "sessions_api_session"  # its table since before roleplay held it
        constraints = [
            models.UniqueConstraint(fields=["tenant", "id"], name="session_tenant_id_uniq"),
            models.CheckConstraint(
                condition=Q(status__in=SessionStatus.values), name="session_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(duration_seconds__isnull=True) | Q(duration_seconds__gte=0),
                name="session_duration_nonnegative",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="session_ends_after_start",
            ),
        ]
        # Each serves one form of GET /sessions: newest first, ties by id, optionally filtered.
        indexes = [
            models.Index("tenant", F("started_at").desc(), F("id").desc(), name="session_list_idx"),
            models.Index(
                "tenant", "user", F("started_at").desc(), F("id").desc(), name="session_user_idx"
            ),
            models.Index(
                "tenant",
                "scenario",
                F("started_at").desc(),
                F("id").desc(),
                name="session_scenario_idx",
            ),
            models.Index(
                "tenant",
                "status",
                F("started_at").desc(),
                F("id").desc(),
                name="session_status_idx",
            ),
            # updated_since: oldest change first.
            models.Index("tenant", "updated_at", "id", name="session_updated_idx"),
            # The summary's unique_reps under a scenario filter: one index probe per rep.
            models.Index(
                "tenant", "scenario", "user", "started_at", name="session_scenario_user_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M} {self.status} ({self.id})"

    def save(self, *args, **kwargs) -> None:
        if self.created_at is None:  # as in the import format: a session's is its started_at
            self.created_at = self.started_at
        super().save(*args, **kwargs)

    def clean(self) -> None:
        """A session has a scorecard exactly when it is scored (docs/api-guide.md). Adding or
        removing the scorecard sets the status (roleplay.scoring); here it cannot drift."""
        super().clean()
        has_scorecard = self.pk is not None and hasattr(self, "scorecard")
        if self.status == self.Status.SCORED and not has_scorecard:
            raise ValidationError(
                {"status": "Only a session with a scorecard is scored: adding one scores it."}
            )
        if self.status != self.Status.SCORED and has_scorecard:
            raise ValidationError({"status": "This session has a scorecard, so it is scored."})


# Daily rollups behind GET /analytics/summary: derived data of the sessions, owned by the
# session write path (roleplay/services.py keeps them exact, roleplay/rollups.py holds
# the recompute), read by analytics. The tables keep the names they had in the analytics app.
#
# The summary over a year of a large tenant would otherwise aggregate hundreds of thousands of
# sessions per request. Whole UTC days come from these rows; the partial days at either end of
# the period come from the sessions themselves, so the figures are always exactly those of the
# plain aggregate (a property test holds the two together). unique_reps does not add up over
# days: it comes from each rep's first and last session (RepSpan), probing only reps whose
# sessions span the whole period. Every write of a session or scorecard goes through the
# services, which recompute the rows of every (tenant, day) and rep they touch: single writes at
# once, the importer's batches once per import. Bulk SQL that bypasses the services must call
# ``rollups.recompute`` and ``rollups.recompute_spans`` itself.


class Verdict(models.TextChoices):
    CRUSHED_IT = "crushed_it", "Crushed it"
    SOLID = "solid", "Solid"
    NEEDS_WORK = "needs_work", "Needs work"
    MISSED_THE_MARK = "missed_the_mark", "Missed the mark"


class Scorecard(TenantOwned):
    Verdict = Verdict

    session = models.OneToOneField(Session, on_delete=models.CASCADE, related_name="scorecard")
    overall_score = models.PositiveSmallIntegerField()
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    headline = models.TextField()
    # [{"key", "label", "score": 0-100, "feedback"}]
    categories = models.JSONField(default=list, blank=True)
    # [{"kind": "strength" | "improvement", "text", "time": seconds | null}]
    callouts = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()
    # When it last changed as the API shows it: stamped by the services (sync/clock.py).
    updated_at = models.DateTimeField(editable=False)

    class Meta(TenantOwned.Meta):
        db_table = "scorecards_scorecard"  # its table since before roleplay held it
        constraints = [
            models.UniqueConstraint(fields=["tenant", "id"], name="scorecard_tenant_id_uniq"),
            models.CheckConstraint(
                condition=Q(overall_score__gte=0) & Q(overall_score__lte=100),
                name="scorecard_score_range",
            ),
            models.CheckConstraint(
                condition=Q(verdict__in=Verdict.values),
                name="scorecard_verdict_valid",
            ),
        ]
        indexes = [
            # updated_since: oldest change first.
            models.Index(fields=["tenant", "updated_at", "id"], name="scorecard_updated_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.overall_score} {self.verdict} ({self.id})"

    def clean(self) -> None:
        super().clean()
        problems = scorecard_item_problems(
            {"categories": self.categories, "callouts": self.callouts}
        )
        if problems:
            raise ValidationError(problems)


class Rollup(models.Model):
    """Rows of one tenant, read through ``objects.for_tenant`` like every tenant-owned row;
    the recompute (roleplay/rollups.py) writes across tenants through ``unscoped``."""

    unscoped = models.Manager()
    objects = TenantScopedManager()

    class Meta:
        abstract = True
        base_manager_name = "unscoped"
        default_manager_name = "unscoped"


class TenantDay(Rollup):
    """All sessions of one tenant that started on one UTC day."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    sessions = models.PositiveIntegerField()
    scored = models.PositiveIntegerField()
    score_total = models.PositiveBigIntegerField()

    class Meta(Rollup.Meta):
        db_table = "analytics_tenantday"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "day"], name="tenantday_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.day}: {self.sessions} sessions"


class ScenarioDay(Rollup):
    """Sessions of one scenario that started on one UTC day: serves the scenario filter."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    sessions = models.PositiveIntegerField()
    scored = models.PositiveIntegerField()
    score_total = models.PositiveBigIntegerField()

    class Meta(Rollup.Meta):
        db_table = "analytics_scenarioday"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "scenario", "day"], name="scenarioday_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.scenario_id}: {self.sessions} sessions"


class RepSpan(Rollup):
    """The first and last session of each rep who has any.

    unique_reps counts reps with a session in the period. A rep whose first or last session
    falls inside it is active, one whose sessions all lie outside it is not: only reps whose
    sessions span the whole period need their sessions probed. For a period that ends at the
    newest data (a dashboard's "last 12 months") that is nobody.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(Rep, on_delete=models.CASCADE, related_name="+")
    first_started_at = models.DateTimeField()
    last_started_at = models.DateTimeField()

    class Meta(Rollup.Meta):
        db_table = "analytics_repspan"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="repspan_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.first_started_at} to {self.last_started_at}"


class BucketUnit(models.TextChoices):
    DAY = "day", "Day"
    WEEK = "week", "ISO week"
    MONTH = "month", "Month"


class RepBucket(Rollup):
    """One rep's sessions in one local day, ISO week or month of the tenant's time zone
    (``start``: its first date): the breakdowns (GET /analytics/breakdown) by rep and time in
    that zone read whole months and weeks here, the days left over at the ends of a period, and
    only the partial days from the sessions. Recomputed with every write of a session or
    scorecard of the tenant, and for the whole tenant, in the same transaction, when its time
    zone changes (roleplay/rollups.py)."""

    Unit = BucketUnit

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(Rep, on_delete=models.CASCADE, related_name="+")
    unit = models.CharField(max_length=8, choices=BucketUnit.choices)
    start = models.DateField()
    sessions = models.PositiveIntegerField()
    scored = models.PositiveIntegerField()
    score_total = models.PositiveBigIntegerField()
    crushed_it = models.PositiveIntegerField()
    solid = models.PositiveIntegerField()
    needs_work = models.PositiveIntegerField()
    missed_the_mark = models.PositiveIntegerField()
    # The bucket's scorecards by category key: ``[key, label, scored, score_total, label_at]``
    # per key found on them, sorted by key (code points): how many carry it, the sum of their
    # scores, and the label of the newest one carrying it (its ``created_at`` as the fixed-width
    # UTC text ``label_at``, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``; a tie on it goes to the greater
    # label). Merging buckets merges these by key, summing and keeping the greater
    # ``(label_at, label)``: roleplay/rollups.py, analytics/breakdown.py.
    categories = models.JSONField(default=list)
    # The same categories as the breakdown's groups show them (``[{"key", "label", "scored",
    # "avg_score"}, ...]``, compact JSON text): a group that is this one bucket (by=user,week
    # reads whole weeks) is answered with it as it is, not rendered again on every request.
    categories_text = models.TextField(default="[]")

    class Meta(Rollup.Meta):
        db_table = "analytics_repbucket"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "unit", "start", "user"], name="repbucket_uniq"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "unit", "user", "start"], name="repbucket_user_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.unit} {self.start} {self.user_id}: {self.sessions} sessions"

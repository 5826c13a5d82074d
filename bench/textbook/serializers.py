from rest_framework import serializers

from roleplay.models import Rep, Session


class SessionSerializer(serializers.ModelSerializer):
    # Annotated on the queryset (one LEFT JOIN), not read through the relation row by row.
    scorecard_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = Session
        fields = [
            "id",
            "user",
            "scenario",
            "status",
            "started_at",
            "ended_at",
            "duration_seconds",
            "created_at",
            "scorecard_id",
            "updated_at",
        ]


class SessionDetailSerializer(SessionSerializer):
    class Meta(SessionSerializer.Meta):
        fields = [*SessionSerializer.Meta.fields, "transcript"]


class UserSerializer(serializers.ModelSerializer):
    last_session_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Rep
        fields = ["id", "full_name", "role", "last_session_at", "updated_at"]


class PeriodSerializer(serializers.Serializer):
    from_ = serializers.DateTimeField()
    to = serializers.DateTimeField()

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")  # a Python keyword as a query parameter
        return fields

    def validate(self, attrs):
        if attrs["from"] > attrs["to"]:
            raise serializers.ValidationError({"from": "must not be later than to"})
        return attrs


class BreakdownQuerySerializer(PeriodSerializer):
    by = serializers.ChoiceField(choices=["user,week"])


class SummarySerializer(serializers.Serializer):
    sessions = serializers.IntegerField()
    scored = serializers.IntegerField()
    avg_score = serializers.IntegerField(allow_null=True)
    unique_reps = serializers.IntegerField()


class VerdictsSerializer(serializers.Serializer):
    crushed_it = serializers.IntegerField()
    solid = serializers.IntegerField()
    needs_work = serializers.IntegerField()
    missed_the_mark = serializers.IntegerField()


class GroupSerializer(serializers.Serializer):
    user_id = serializers.UUIDField()
    week = serializers.DateField()
    sessions = serializers.IntegerField()
    scored = serializers.IntegerField()
    avg_score = serializers.IntegerField(allow_null=True)
    unique_reps = serializers.IntegerField()
    verdicts = VerdictsSerializer()

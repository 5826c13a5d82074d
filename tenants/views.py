from rest_framework.request import Request
from rest_framework.response import Response

from api.examples import example
from api.params import QueryParams
from api.schema import LIMIT, USER_CURSOR, USER_PAGE, api_operation, enum_query
from api.viewsets import TenantScopedViewSet, envelope

from . import selectors
from .models import Rep


class UserViewSet(TenantScopedViewSet):
    required_scope = "users:read"

    @api_operation(
        operation_id="list_users",
        examples=example("user_page"),
        summary="List users (reps) by name",
        response=USER_PAGE,
        parameters=[
            LIMIT,
            enum_query("role", tuple(Rep.Role.values), "Only users with this role."),
            enum_query(
                "include",
                ("email",),
                "`email` adds each user's email; needs the `users:email` scope (else 403).",
            ),
            USER_CURSOR,
        ],
        errors=[400, 403],
    )
    def list(self, request: Request) -> Response:
        params = QueryParams(request.query_params)
        limit = params.limit()
        role = params.choice("role", tuple(Rep.Role.values))
        include = params.choice("include", ("email",))
        after = params.opaque_cursor(size=2)
        params.validate()
        with_email = include == "email"
        if with_email:
            self.require_scope("users:email")

        rows, next_cursor = selectors.user_list(
            tenant=self.tenant, role=role, after=after, limit=limit
        )
        data = []
        for row in rows:
            item = {
                "id": row["w_id"],
                "full_name": row["w_full_name"],
                "role": row["w_role"],
                "last_session_at": row["w_last_session_at"],
            }
            if with_email:
                item["email"] = row["w_email"] or None
            data.append(item)
        return envelope(data, next_cursor=next_cursor)

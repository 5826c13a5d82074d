"""orjson for every API response: several times faster than the stdlib encoder DRF uses, and
able to splice JSON the database already rendered (``orjson.Fragment``) without re-parsing it."""

from __future__ import annotations

import orjson
from rest_framework.renderers import BaseRenderer


class ORJSONRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None  # JSON is UTF-8 by definition (RFC 8259); no charset parameter

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)

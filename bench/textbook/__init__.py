"""The textbook DRF peer of the API (issue #25): what a competent developer following the DRF
tutorial would write for the same endpoints, over the same models, database and token
authentication. bench/near_floor.py measures it beside the API and the HTTP floor
(bench/floor.py).

    DJANGO_SETTINGS_MODULE=bench.textbook.settings gunicorn -c gunicorn.conf.py config.wsgi

``ModelSerializer`` + viewsets + ``CursorPagination`` for the lists and the detail, a plain
``aggregate()`` for the summary and a plain ``values().annotate()`` for the breakdown; the API's
own ``BearerTokenAuthentication`` and ``HasRequiredScope``. Its answers are DRF's (``results``,
``next``, ``previous``), not the API's envelope, but hold the same rows.
"""

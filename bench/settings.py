"""Production settings plus the benchmark's baseline endpoints (bench/urls.py)."""

from config.settings.production import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

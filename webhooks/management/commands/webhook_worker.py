import asyncio
import logging
import signal

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from webhooks import delivery, queue

log = logging.getLogger("webhooks.worker")
# After losing the database, the worker starts again after 1 s, then 2, 4, ... at most 10.
RESTART_FIRST_SECONDS = 1.0
RESTART_MAX_SECONDS = 10.0


def _sweep() -> None:
    """Jobs for whatever is due, before the first wait: deliveries a killed worker was sending
    when it died are due again now."""
    close_old_connections()
    delivery.wake_due()
    close_old_connections()


class Command(BaseCommand):
    help = (
        "Run the webhook delivery worker in the foreground until SIGTERM or SIGINT, which it "
        "honours by finishing the POSTs in flight (or releasing their deliveries to the next "
        "worker). On PostgreSQL: a procrastinate worker woken by LISTEN/NOTIFY; connect it to "
        "PostgreSQL directly, not through a transaction-mode pooler. On SQLite: it polls."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--concurrency",
            type=int,
            default=settings.WEBHOOK_WORKER_CONCURRENCY,
            help="endpoints delivered to at once (default WEBHOOK_WORKER_CONCURRENCY)",
        )
        parser.add_argument(
            "--once", action="store_true", help="deliver what is due now, then exit"
        )

    def handle(self, *args, **options) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: delivery.STOPPING.set())
        if queue.uses_procrastinate():
            asyncio.run(self._procrastinate(options["concurrency"], once=options["once"]))
        else:
            self._poll(once=options["once"])

    async def _procrastinate(self, concurrency: int, *, once: bool) -> None:
        """Runs procrastinate's worker until asked to stop. When the database goes away
        (a restart, a failover) procrastinate's worker stops itself, its LISTEN connection
        lost: it is started again, once the database answers, rather than leaving nobody to
        deliver (a supervisor restarting only failed processes would not notice)."""
        retry = RESTART_FIRST_SECONDS
        while True:
            try:
                await self._procrastinate_once(concurrency, once=once)
            except Exception:
                log.exception("webhook worker failed")
            if once or delivery.STOPPING.is_set():
                break
            log.error("webhook worker lost the database: starting again in %s s", retry)
            await asyncio.sleep(retry)
            if delivery.STOPPING.is_set():
                break
            retry = min(retry * 2, RESTART_MAX_SECONDS)
        log.info("webhook worker stopped")

    async def _procrastinate_once(self, concurrency: int, *, once: bool) -> None:
        from procrastinate.contrib.django import app

        from webhooks.tasks import QUEUE

        with app.replace_connector(app.connector.get_worker_connector()) as worker_app:
            async with worker_app.open_async():
                worker = worker_app._worker(
                    queues=[QUEUE],
                    name="webhooks",
                    concurrency=concurrency,
                    wait=not once,
                    install_signal_handlers=False,
                    # Each drain ends after its batch once STOPPING is set: at most a timeout.
                    shutdown_graceful_timeout=settings.WEBHOOK_TIMEOUT_SECONDS + 10,
                    delete_jobs="successful",
                )
                loop = asyncio.get_running_loop()

                def stop() -> None:
                    delivery.STOPPING.set()
                    worker.stop()

                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(sig, stop)
                # Deliveries due meanwhile (and those a killed worker held) get their jobs.
                await sync_to_async(_sweep, thread_sensitive=False)()
                log.info("webhook worker started (procrastinate, concurrency %s)", concurrency)
                await worker.run()

    def _poll(self, *, once: bool) -> None:
        """SQLite, which procrastinate does not support: one endpoint at a time, every
        WEBHOOK_POLL_SECONDS (the demo's worker; production runs PostgreSQL)."""
        log.info("webhook worker started (polling every %ss)", settings.WEBHOOK_POLL_SECONDS)
        stopping = delivery.STOPPING
        with delivery.http_client() as client:
            while not stopping.is_set():
                due = delivery.due_endpoints()
                for endpoint_id in due:
                    delivery.drain(endpoint_id, client=client, stopping=stopping.is_set)
                close_old_connections()
                if once and not due:
                    break
                stopping.wait(settings.WEBHOOK_POLL_SECONDS)
        log.info("webhook worker stopped")

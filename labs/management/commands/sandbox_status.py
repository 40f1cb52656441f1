"""``python manage.py sandbox_status``: which sandbox backend this machine would run jobs on now, and why
not when it cannot; said loudly when it is the unsafe local one. Exit 1 when jobs cannot run."""

from django.core.management.base import BaseCommand, CommandError

from sandbox import api


class Command(BaseCommand):
    help = "Print the sandbox backend jobs would run on now."

    def handle(self, *args, **options):
        status = api.backend_status()
        if status["unsafe"]:
            bar = "!" * 100
            self.stderr.write(f"{bar}\n{api.UNSAFE_WARNING}\n{bar}")
        if status["problem"]:
            raise CommandError(f"Sandbox backend {status['name']} cannot run jobs now: {status['problem']}")
        self.stdout.write(f"Sandbox backend: {status['name']}")

"""``python manage.py sandbox_status``: which sandbox backend this machine would use, said loudly when
it is the unsafe local one."""

from django.core.management.base import BaseCommand

from sandbox import backend_label


class Command(BaseCommand):
    help = "Print the sandbox backend in use."

    def handle(self, *args, **options):
        label = backend_label()
        if label["unsafe"]:
            bar = "!" * 100
            self.stderr.write(f"{bar}\n{label['warning']}\n{bar}")
        else:
            self.stdout.write(f"Sandbox backend: {label['name']}")

"""``python manage.py api_token USERNAME [--days N]``: make an API token for the ``quantprep`` CLI and
print it once (only its digest is kept). ``--list`` shows the user's tokens, ``--revoke PREFIX`` revokes
the live ones that start with PREFIX. See docs/cli.md."""

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from cohorts.tokens import DEFAULT_DAYS, TokenRefused, token_create, token_revoke, token_state, tokens_of


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print it once (or list / revoke that user's tokens)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help=f"lifetime (default {DEFAULT_DAYS})")
        parser.add_argument("--list", action="store_true", help="list the user's tokens instead")
        parser.add_argument("--revoke", metavar="PREFIX", help="revoke the user's live tokens starting with PREFIX")

    def handle(self, *args, **options):
        try:
            user = User.objects.get(username=options["username"])
        except User.DoesNotExist as exc:
            raise CommandError(f"no user called {options['username']!r}") from exc
        if options["list"]:
            now = timezone.now()
            for token in tokens_of(user):
                state = token_state(token, now=now)
                used = token.last_used_at.isoformat(timespec="seconds") if token.last_used_at else "never"
                self.stdout.write(f"{token.prefix}…  {state:8} expires {token.expires_at:%Y-%m-%d}  last used {used}")
            return
        if options["revoke"]:
            given = options["revoke"].rstrip("…")
            if len(given) < 6:
                raise CommandError("give at least the first 6 characters of the token (as --list shows them)")
            # The prefix as --list shows it, a shorter start of it, or the whole token.
            live = [t for t in tokens_of(user).filter(revoked_at__isnull=True)
                    if t.prefix.startswith(given) or given.startswith(t.prefix)]
            if not live:
                raise CommandError(f"{user.username} has no live token starting with {options['revoke']!r}")
            for token in live:
                token_revoke(token=token)
                self.stdout.write(f"revoked {token.prefix}…")
            return
        try:
            token, plaintext = token_create(user=user, days=options["days"])
        except TokenRefused as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(f"API token for {user.username}, valid until {token.expires_at:%Y-%m-%d %H:%M} UTC. "
                          "It is shown only now; keep it in QUANTPREP_TOKEN or ~/.config/quantprep/token.")
        self.stdout.write(plaintext)

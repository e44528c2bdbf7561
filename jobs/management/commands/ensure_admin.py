"""Create a first administrator for a fresh single-host install (make run).

Does nothing when a superuser exists. The password is generated, stored under var/ with
owner-only permissions, and printed, so nobody ships a well-known default password.
"""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from jobs.models import NamespaceGrant


class Command(BaseCommand):
    help = "Create the first admin user (admin) with a generated password if none exists."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--namespace", default="default", help="namespace granted to it")

    def handle(self, *args, username: str, namespace: str, **options):
        users = get_user_model()
        path = settings.VAR_DIR / "admin-password"
        if users.objects.filter(is_superuser=True).exists():
            if path.exists() and users.objects.filter(username=username).exists():
                self.stdout.write(f"login: {username} / {path.read_text().strip()} (from {path})")
            else:
                self.stdout.write("an administrator already exists")
            return
        try:
            # A system namespace is refused before anything is created.
            NamespaceGrant(namespace=namespace).clean()
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        password = secrets.token_urlsafe(12)
        user = users.objects.create_superuser(username=username, password=password, email="")
        NamespaceGrant.objects.get_or_create(user=user, namespace=namespace)
        path.write_text(password + "\n")
        path.chmod(0o600)
        self.stdout.write(f"login: {username} / {password} (saved in {path})")

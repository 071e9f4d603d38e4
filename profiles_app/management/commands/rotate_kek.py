"""``manage.py rotate_kek``: re-encrypt every volume key under a new key-encryption key."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from profiles_app.services.keys import KeyError_, kek_rotate

EPILOG = """\
exit status:
  0  every volume key was re-encrypted
  1  --new-key is not a valid Fernet key
  3  a stored volume key cannot be decrypted with the current KEK; nothing changed
"""


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored volume key under a new key-encryption key (KEK). "
        "A KEK held in the instance file is replaced there; a KEK from VMPERSONA_KEK "
        "must then be changed in the environment (the new key is printed for that)."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        kwargs.setdefault("epilog", EPILOG)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument(
            "--new-key",
            metavar="KEY",
            help="The new Fernet key (default: a freshly generated one).",
        )

    def handle(self, *args, **options):
        try:
            result = kek_rotate(new_key=options["new_key"])
        except KeyError_ as exc:
            self.stderr.write(f"error: {exc}")
            raise SystemExit(3) from None
        except ValueError:
            # Never echo the key itself.
            self.stderr.write(
                "error: --new-key is not a valid Fernet key (32 url-safe base64-encoded bytes)."
            )
            raise SystemExit(1) from None
        self.stdout.write(
            f"Re-encrypted {result['rotated']} volume key(s) under the new key-encryption key."
        )
        if result["kek_source"] == "environment":
            self.stdout.write(
                "The KEK comes from VMPERSONA_KEK: set it to the new key followed by the current "
                'value (VMPERSONA_KEK="<new key>,$VMPERSONA_KEK") and restart every process; once '
                "all have restarted, set it to the new key alone."
            )
            self.stdout.write(f"new key: {result['new_key']}")
        else:
            self.stdout.write(
                f"The new KEK is stored in {result['kek_source']}; the old one was removed."
            )

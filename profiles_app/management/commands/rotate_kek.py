"""``manage.py rotate_kek``: re-encrypt every volume key under a new key-encryption key."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from profiles_app.management.help import HelpFormatter
from profiles_app.services.keys import KeyError_, kek_rotate

EPILOG = """\
The new key can be given with --new-key KEY (also when it starts with "-"), or read
from a file or standard input with --new-key-file PATH|- so that it does not appear
in the process list or the shell's history. Without either, a key is generated.

exit status:
  0  every volume key was re-encrypted
  1  the new key is not a valid Fernet key, or its file cannot be read
  3  a stored volume key cannot be decrypted with the current KEK; nothing changed
"""

KEY_OPTION = "--new-key"


def _join_key_value(args: list[str]) -> list[str]:
    """Fernet keys are url-safe base64 and may start with "-", which argparse would
    take for an option: bind the word after ``--new-key`` to it explicitly."""
    joined: list[str] = []
    words = iter(args)
    for word in words:
        if word == KEY_OPTION:
            value = next(words, None)
            joined.append(word if value is None else f"{KEY_OPTION}={value}")
        else:
            joined.append(word)
    return joined


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored volume key under a new key-encryption key (KEK). "
        "A KEK held in the instance file is replaced there; a KEK from VMPERSONA_KEK "
        "must then be changed in the environment (the new key is printed for that)."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        kwargs.setdefault("epilog", EPILOG)
        kwargs.setdefault("formatter_class", HelpFormatter)
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parse_args = parser.parse_args

        def parse_joined(args=None, namespace=None):
            words = list(sys.argv[2:] if args is None else args)
            return parse_args(_join_key_value(words), namespace)

        parser.parse_args = parse_joined  # type: ignore[method-assign]
        return parser

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group()
        source.add_argument(
            KEY_OPTION,
            metavar="KEY",
            help="The new Fernet key (default: a freshly generated one).",
        )
        source.add_argument(
            "--new-key-file",
            metavar="PATH",
            help='Read the new Fernet key from this file ("-" for standard input).',
        )

    def handle(self, *args, **options):
        new_key = options["new_key"]
        if options["new_key_file"]:
            new_key = self._read_key(options["new_key_file"])
        try:
            result = kek_rotate(new_key=new_key)
        except KeyError_ as exc:
            self.stderr.write(f"error: {exc}")
            raise SystemExit(3) from None
        except ValueError:
            # Never echo the key itself.
            self.stderr.write(
                "error: the new key is not a valid Fernet key (32 url-safe base64-encoded bytes)."
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

    def _read_key(self, path: str) -> str:
        try:
            if path == "-":
                text = sys.stdin.read()
            else:
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not text"
            self.stderr.write(f"error: cannot read --new-key-file {path}: {reason}")
            raise SystemExit(1) from None
        key = text.strip()
        if not key:
            self.stderr.write(f"error: --new-key-file {path} is empty")
            raise SystemExit(1)
        return key

"""Help layout shared by the management commands."""

from __future__ import annotations

import argparse

from django.core.management.base import DjangoHelpFormatter


class HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Django's help layout, keeping descriptions' and epilogs' lines as written."""

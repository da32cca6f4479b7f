"""Fixtures of the email tests; they live in email_testkit.py, which tests import by its own name."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from email_testkit import box, dovecot, imap_box, smtp, token_server

__all__ = ["box", "dovecot", "imap_box", "smtp", "token_server"]

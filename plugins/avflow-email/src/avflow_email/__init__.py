"""avflow-email: the ``email.triage`` action, ``imap`` and ``maildir`` accounts, ``email.new_mail``."""

from __future__ import annotations

__version__ = "0.1.0"

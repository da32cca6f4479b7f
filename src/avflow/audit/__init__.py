"""The per-client, tamper-evident audit trail (docs/audit.md; its place: docs/architecture.md).

Records go to ``$AVFLOW_HOME/audit/<client>/<YYYY-MM>.jsonl``, one JSON object a line (the layout
is in `avflow.audit.format`). Each holds a sequence number, the UTC time, client, workflow, run,
step, event, effect key, a description, structured details, the previous record's hash and its own
hash. The chain continues across monthly files. Signed checkpoints (`avflow.audit.checkpoints`)
anchor it; `avflow.audit.verify` checks both.

Modules: ``format`` (record bytes), ``pipeline`` (structlog processors: redaction, masking),
``writer`` (`AuditTrail`), ``keys`` (Ed25519), ``checkpoints``, ``verify``, ``retention``
(prune), ``export`` (JSON lines, CSV, verification bundle), ``report`` (HTML activity report).
"""

from __future__ import annotations

from avflow.audit.format import GENESIS
from avflow.audit.writer import AuditTrail

__all__ = ["GENESIS", "AuditTrail"]

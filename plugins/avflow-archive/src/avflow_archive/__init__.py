"""avflow-archive: file documents into each client's archive, safely and once.

The plugin is registered through the ``avflow`` entry-point group (``avflow_archive.plugin``) and
uses only avflow's public API. See docs/archive.md.
"""

from __future__ import annotations

__version__ = "0.1.0"

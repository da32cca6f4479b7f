"""The markers of the plugin API: ``@avflow.hookimpl`` on hook implementations, and
``avflow.hookspec`` for a plugin that declares hooks of its own (see `register_hookspecs`).

Where it fits among the layers: docs/architecture.md.
"""

import pluggy

hookimpl = pluggy.HookimplMarker("avflow")
hookspec = pluggy.HookspecMarker("avflow")

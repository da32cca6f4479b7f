"""The marker plugins decorate their hook implementations with: ``@avflow.hookimpl``."""

import pluggy

hookimpl = pluggy.HookimplMarker("avflow")

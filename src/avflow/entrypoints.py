"""Where avflow finds installed plugins (docs/plugins.md), in a module that imports nothing, so
``avflow --help`` can list the plugins' commands without loading a plugin.

Where it fits among the layers: docs/architecture.md.
"""

ENTRY_POINT_GROUP = "avflow"  # a distribution's plugins: name = "module"
COMMANDS_GROUP = "avflow.commands"  # the commands they add: name = "module:command"
DISABLE_AUTOLOAD_ENV = "AVFLOW_DISABLE_PLUGIN_AUTOLOAD"
BLOCK_ENV = "AVFLOW_BLOCK_PLUGINS"

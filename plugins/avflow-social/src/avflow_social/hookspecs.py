"""The social plugin's own hook: a third party adds a network with one small class."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import avflow


@avflow.hookspec
def register_social_providers(register: Callable[[Any], None]) -> None:
    """Register social networks or blogs posts can be published to.

    :param register: call it once per `avflow_social.Provider` subclass *instance*. Its ``name``
        is also the account type a client profile declares (``type: mastodon``); a name
        registered twice is an error.
    """

"""``python -m avflow``."""

from avflow.cli import main

main()

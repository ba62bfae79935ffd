"""Entry point for `python -m agent_client`."""

import sys

from agent_client.cli import main

sys.exit(main())

"""``python -m edge_agent``: the agent CLI without the ``factoryloop`` root command."""

from __future__ import annotations

import logging
import sys

from edge_agent.cli import app

if __name__ == "__main__":
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    app()

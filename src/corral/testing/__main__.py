"""``python -m corral.testing``: serve the test site until SIGTERM or SIGINT."""

import sys

from corral.testing._cli import main

sys.exit(main())

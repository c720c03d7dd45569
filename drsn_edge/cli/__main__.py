"""``python -m drsn_edge.cli``."""
import sys

from drsn_edge.cli import main

sys.exit(main())

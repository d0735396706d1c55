"""``python -m deepcore.bench`` runs the deepcore-bench command line."""
import sys

from .cli import main

sys.exit(main())

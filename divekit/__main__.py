import sys

from divekit.cli import main

sys.exit(main())

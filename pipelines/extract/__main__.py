import sys

from pipelines.extract.cli import main

sys.exit(main())

import sys

from .tools import warm

# With SPIKESPARSE_WARM=1 the command runs in a child of the warm server (spikesparse.tools.warm);
# None means it runs here, cold.
status = warm.run(sys.argv[1:], "spikesparse.cli")
if status is None:
    from .cli import main

    status = main()
sys.exit(status)

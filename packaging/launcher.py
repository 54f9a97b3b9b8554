"""Entry point of the frozen bundle: the desktop app, or the batch command.

    rehue [photos…]                 # the app
    rehue batch IN -o OUT [...]     # rehue-batch, same options
    rehue-batch IN -o OUT [...]     # the same, through a link or wrapper named rehue-batch
"""

import os
import sys


def main() -> int:
    name = os.path.basename(sys.argv[0]).lower()
    if name.startswith("rehue-batch") or (len(sys.argv) > 1 and sys.argv[1] == "batch"):
        from rehue.cli import main as batch_main

        args = sys.argv[1:]
        if args and args[0] == "batch":
            args = args[1:]
        return batch_main(args)
    from desktop.app import main as app_main

    return app_main(sys.argv)


if __name__ == "__main__":
    sys.exit(main())

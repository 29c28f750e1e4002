"""``python -m service.cli_main``: the ``policyqa`` command without the installed script."""

from service.cli import main

if __name__ == "__main__":
    main()

"""Allows `python -m oncall_agent`."""

from oncall_agent.cli import main

if __name__ == "__main__":
    main()

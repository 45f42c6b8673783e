"""A job for the background-engine tests: notes each run, with the process that ran it."""

from __future__ import annotations

import os


def note_run(path: str) -> None:
    with open(path, "a") as runs:
        runs.write(f"{os.getpid()}\n")

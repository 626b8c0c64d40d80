"""Every use-case module that registers job handlers (`jobs.register`). A process that runs, reads or retries jobs
imports this at its start (the dashboard, the API, the CLI and so its worker), so a claim of any kind finds its
handlers on whichever consumer thread picks it up, even before a page that imports its module was opened."""

from services import lifestyle, storyboard

__all__ = ["lifestyle", "storyboard"]

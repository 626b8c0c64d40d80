"""How a recorded seed reads in captions: the number, or that the backend did not use it (OpenAI has no seed)."""

from __future__ import annotations

SEED_NOT_USED = "seed not used by this backend"


def seed_words(seed: int | None, honoured: bool | None) -> str:
    """`seed 42`, or `seed not used by this backend` when the image's backend ignores seeds; empty without a seed."""
    if honoured is False:
        return SEED_NOT_USED
    return f"seed {seed}" if seed is not None else ""

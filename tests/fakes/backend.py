"""An image backend in this process: the offline renderer behind a counter (the `fake_backend` fixture)."""

from __future__ import annotations

import threading
import time

from services.backends.local import LocalBackend


class FakeBackend:
    """The offline renderer behind a counter: records calls, can be slow, can fail for chosen prompts."""

    name, model = "fake", "fake-1"

    def __init__(self):
        self.local = LocalBackend()
        self.capabilities = self.local.capabilities
        self.calls: list[dict] = []
        self.delay = 0.0
        self.fail_when = None  # prompt -> exception to raise, or None
        self.active = self.max_active = 0
        self._lock = threading.Lock()

    def generate(self, prompt, *, width, height, seed, references, progress=None, style_lora=None):
        with self._lock:
            self.calls.append(
                {
                    "prompt": prompt,
                    "width": width,
                    "height": height,
                    "seed": seed,
                    "references": len(references),
                    "style_lora": style_lora,
                }
            )
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            time.sleep(self.delay)
            error = self.fail_when(prompt) if self.fail_when else None
            if error is not None:
                raise error
            return self.local.generate(prompt, width=width, height=height, seed=seed, references=references)
        finally:
            with self._lock:
                self.active -= 1

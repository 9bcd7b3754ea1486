"""The plugin's own tests: the in-memory backend is available as ``memory``."""

pytest_plugins = ["fakes.memory_backend"]

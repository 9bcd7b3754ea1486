"""Test-only fakes (an in-memory environment); never evidence about Flux itself."""

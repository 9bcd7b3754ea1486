"""Where Flux runs: docker and kind, behind backends.base.Backend."""

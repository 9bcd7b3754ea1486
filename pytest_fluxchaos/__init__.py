"""pytest-fluxchaos: chaos tests proving Flux image automation never rolls a tag back."""

__version__ = "0.1.0"

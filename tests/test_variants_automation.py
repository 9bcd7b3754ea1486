"""A suite variant can ask for image-automation-controller beside IRC (``automation: true``)."""

from pytest_fluxchaos.variants import PRESETS, Variant, resolve


def test_automation_is_inherited_through_base():
    custom = {"ha-iac": Variant.model_validate({"name": "ha-iac", "base": "ha-emptydir", "automation": True})}
    v = resolve("ha-iac", custom)
    assert v.automation is True and v.replicas == 2
    assert not resolve("single").automation
    assert all(p.automation is None for p in PRESETS.values())  # presets run IRC only, as before

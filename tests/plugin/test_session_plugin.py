"""The session state is a plugin object (like junitxml's LogXML), not a stash entry
that module-level hooks forward to."""

from __future__ import annotations

import pytest


def test_the_session_is_a_registered_plugin_with_its_hooks(project: pytest.Pytester) -> None:
    """Kills: moving the session's hooks back to plugin.py, or not registering it."""
    project.makepyfile(test_s="""
        import pytest_fluxchaos.plugin as plugin

        SESSION_HOOKS = ["pytest_collection_modifyitems", "pytest_runtest_call", "pytest_runtest_logreport",
                         "pytest_sessionfinish", "pytest_unconfigure", "pytest_terminal_summary"]

        def test_session(pytestconfig, fluxchaos_session):
            pm = pytestconfig.pluginmanager
            assert pm.get_plugin("fluxchaos-session") is fluxchaos_session
            assert pm.get_name(fluxchaos_session) == "fluxchaos-session"
            for hook in SESSION_HOOKS:
                owners = [impl.plugin for impl in getattr(pm.hook, hook).get_hookimpls()]
                assert fluxchaos_session in owners, hook
                assert plugin not in owners, hook
            module_hooks = sorted(n for n in vars(plugin) if n.startswith("pytest_"))
            assert module_hooks == ["pytest_addhooks", "pytest_addoption", "pytest_collect_file",
                                    "pytest_configure"]
    """)
    result = project.runpytest("test_s.py", "--fluxchaos-backend=memory")
    result.assert_outcomes(passed=1)


def test_the_summary_table_is_written_by_the_session_plugin(project: pytest.Pytester) -> None:
    """Unregistering the session plugin (e.g. another plugin replacing it) removes its summary."""
    project.makeconftest("""
        pytest_plugins = ["fakes.memory_backend"]

        def pytest_sessionfinish(session):
            pm = session.config.pluginmanager
            pm.unregister(pm.get_plugin("fluxchaos-session"))
    """)
    result = project.runpytest("suites/steady.yaml", "--fluxchaos-backend=memory")
    result.assert_outcomes(passed=1)
    assert "fluxchaos summary" not in result.stdout.str()

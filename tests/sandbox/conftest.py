"""The sandbox's tests run against the local fixture server, on the loopback interface only (as the tools' do)."""

from tests.support.tool_fixtures import fixture_server, google_settings, loopback_only, settings

__all__ = ["fixture_server", "google_settings", "loopback_only", "settings"]

"""The project's own tests use the emulator fixtures, opted in like any user's suite."""

pytest_plugins = ["scrapy_wds.testing.pytest_plugin"]

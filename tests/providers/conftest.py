from assay.testing.pytest_plugin import model_server  # noqa: F401 - the fixture

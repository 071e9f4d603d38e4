"""REST API for profiles (``/api/v1/``): thin views over the selectors and services."""

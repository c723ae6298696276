"""The web application and REST API (``capstone serve``): Dutch pages and ``/api/v1`` over the same
services the CLI calls, signed in through OpenID Connect (Entra ID; the simulator in tests/demo)."""

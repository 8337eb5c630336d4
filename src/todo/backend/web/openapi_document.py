"""`openapi` entry point: print the API's OpenAPI document (the web app's types are
generated from it), without starting a server or touching a database."""

from __future__ import annotations

import json
import sys

from todo.backend.app import create_app
from todo.backend.settings import BackendSettings


def main() -> None:
    document = create_app(BackendSettings()).openapi()
    json.dump(document, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

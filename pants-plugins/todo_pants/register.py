"""Pants plugin: TypeScript targets for the web app, on top of Pants' JavaScript backend.

Pants 2.17's JavaScript backend installs the npm lockfile, runs package.json build scripts
(their output becomes resources, e.g. of the backend's PEX) and runs package.json test
scripts, but knows only `.js` files and has no type checker or ESLint. This plugin adds
`typescript_sources`/`typescript_tests` (accepted by that backend wherever it takes
JavaScript) and runs the package's `typecheck` script under `check` and its `lint`
script under `lint`.
"""

from todo_pants import typescript


def target_types():  # type: ignore[no-untyped-def]
    return typescript.target_types()


def rules():  # type: ignore[no-untyped-def]
    return typescript.rules()

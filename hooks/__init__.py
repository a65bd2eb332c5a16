"""The git hook shim users get (hook-tmpl), installed as orchestrator.hooks (pyproject.toml maps
this folder into the package): `orchestrator hooks install` fills in the hook's name and the
Python to run. An __init__ because setuptools' editable installs do not find a mapped folder
without one."""

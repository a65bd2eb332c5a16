"""The git hook shim users get: hook-tmpl, one template that `orchestrator hooks install` fills
in with a hook's name and the Python to run (orchestrator/githooks.py). Packaged as
orchestrator.hooks: pyproject.toml maps this folder, and setuptools' editable installs find a
mapped folder only with an __init__."""

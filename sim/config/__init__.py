"""The scenario: its YAML schema, ``extends:`` and ``--set``, validation, duration laws. Reads files; knows nothing of SimPy."""

"""``bwsim serve``: a local web app over the library, for people who do not write YAML.

- :mod:`.catalog`: the scenario folder (scenarios chosen by name, never by path; saving a new
  scenario that ``extends:`` another; uploads);
- :mod:`.forms`: the policy levers as form fields, read from the scenario schema, and their
  server-side validation with pydantic's messages per field;
- :mod:`.jobs`: the background runs (a bounded queue, a process pool, a cache of results keyed by
  the content of what was asked);
- :mod:`.charts`: inline SVG charts (bands over time, paired differences), hover via ``<title>``;
- :mod:`.app`: the FastAPI app and its pages.

The package sits beside :mod:`sim.cli`, above the report layer; it never prints.
"""

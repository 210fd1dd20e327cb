"""Further ``bwsim`` commands, one module each; every module here registers its
commands on :data:`sim.cli.app` when imported (see ``sim.cli._register_commands``)."""

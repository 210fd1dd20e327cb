"""The SimPy world of one region: the client journey, its states, fates, pools and policy levers. Tells a recorder every change; never imports it."""

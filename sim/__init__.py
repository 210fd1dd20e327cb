"""bwsim: a discrete-event simulator of beschermd wonen capacity, waitlists and uitstroom."""

__version__ = "0.1.0"

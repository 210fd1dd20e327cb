"""Everything written for a reader: the one atomic results writer, figures (matplotlib chosen lazily), comparison, verdeel and calibration reports."""

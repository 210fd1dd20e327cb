"""Fitting and screening the model: ABC-SMC calibration against observations, Morris sensitivity."""

"""Calibration of the refusal decision: questions, the fitting script and its result."""

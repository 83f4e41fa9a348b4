"""Rendering of predictions and verdicts (terminal text, JSON, plots), shared by the
command line and the tracker."""

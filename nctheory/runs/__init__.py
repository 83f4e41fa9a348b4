"""Measurement: data, models, backends, the UFM, NC metrics and the training loop.

A run carries the spec it trained with; it never decides anything about the theory.
"""

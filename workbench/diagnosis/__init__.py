"""Diagnosis: after a verdict, why. Is the gold itself sound (``gold``)?"""

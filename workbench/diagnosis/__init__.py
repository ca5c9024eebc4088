"""Diagnosis: after a verdict, why. Is the gold itself sound (``gold``)?

Is a comparison's "+2 fixed, -1 regressed" more than noise (``noise``: an exact sign
test on the flips of two runs, with the flips that may be noise marked uncertain)?
"""

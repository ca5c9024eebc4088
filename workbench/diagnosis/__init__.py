"""Diagnosis: after a verdict, why. Is the gold itself sound (``gold``)?

Is a comparison's "+2 fixed, -1 regressed" more than noise (``noise``: an exact sign
test on the flips of two runs, with the flips that may be noise marked uncertain)?
Which hunks of a prompt edit flipped a case (``blame`` over ``hunks``, probed for real
by ``probing``, told by ``report``)? Which cases has a training export seen (``heldout``)?
"""

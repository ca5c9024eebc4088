"""Diagnosis: after a verdict, why. Is the gold itself sound (``gold``)?
Which hunks of a prompt edit flipped a case (``blame`` over ``hunks``, probed for real
by ``probing``, told by ``report``)?"""

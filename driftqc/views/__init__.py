"""Data prepared for drawing, shared by the matplotlib and Qt back ends.

A view receives arrays that are ready to draw (grey levels per spike, colour scales), so
the same prepared data feed :mod:`driftqc.plotting` and :mod:`driftqc.interactive`; neither
back end imports the other.
"""

"""The fleet generator: a simulated MSP's repository and the lab's truth about its devices.

:mod:`.generator` draws the fleet, :mod:`.models` holds the device models per vendor,
:mod:`.profile` how each protocol family behaves, :mod:`.repo` writes the files.
"""

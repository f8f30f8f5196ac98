"""Applying: everything that acts on devices, around the pure planner.

:mod:`.gather` reads facts concurrently; :mod:`.executor` runs site plans (phases in order, sites at
once, waits as timers) and emits typed events; :mod:`.handlers` carries out each kind of step through
the drivers; :mod:`.journal` records intent and outcome so a killed run resumes; :mod:`.sitelocks`
keeps one run per site at a time; :mod:`.run` ties a play's keyring, drivers, plan and journal together.
:mod:`.temporal` is the executor's second backend: each site a workflow on the workers of its region.
"""

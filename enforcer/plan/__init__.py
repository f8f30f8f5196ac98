"""Planning, pure: facts and desired state in, a serialisable plan out; no I/O anywhere in this package.

:mod:`.diff` compares a device's facts with its desired state field by field; :mod:`.planner`
orders the changes of a site in lock-safe phases; :mod:`.steps` is the closed, typed set of step
kinds; :mod:`.artifact` is the plan file (no secret value, with the facts' fingerprints).
"""

from enforcer.plan.artifact import PHASES, Phase, Plan, SitePlan, Step, load_plans, save_plans
from enforcer.plan.diff import Change, diff_channels, diff_device
from enforcer.plan.planner import plan_site
from enforcer.plan.steps import KINDS, StepKind

__all__ = [
    "KINDS",
    "PHASES",
    "Change",
    "Phase",
    "Plan",
    "SitePlan",
    "Step",
    "StepKind",
    "diff_channels",
    "diff_device",
    "load_plans",
    "plan_site",
    "save_plans",
]

"""Every bound the loader puts on its input, in one place.

An inventory may come from a pull request that CI validates and plans before anyone reviews it, so
nothing in it may make the loader read outside the repository, exhaust memory or run forever. Each
bound is far above what a real MSP repository needs (the lab's 4,500-device fleet in one file is
620 KB and 70,000 YAML values) and far below what would hurt a CI runner.
"""

from __future__ import annotations

from typing import Final

#: Bytes in one inventory, playbook, vault or template file. A larger fleet splits its inventory
#: into a folder of files, one per customer, as the README suggests.
MAX_FILE_BYTES: Final = 1024 * 1024

#: Bytes in a ``file:`` secret: a password or an SSH private key, never a document.
MAX_SECRET_FILE_BYTES: Final = 64 * 1024

#: Nesting of mappings and sequences in one YAML document; an inventory needs about ten.
MAX_YAML_DEPTH: Final = 64

#: Values one YAML document may build, counting every copy an alias or merge key makes: a
#: "billion laughs" of 2 KB would otherwise build a billion.
MAX_YAML_VALUES: Final = 250_000

#: A string counts as one more value per this many characters, so that an alias repeating a 500 KB
#: string does not cost a schema check and a 500 KB message per use at the price of one value.
YAML_CHARS_PER_VALUE: Final = 64

#: Items one ``range()`` in a template may produce.
MAX_TEMPLATE_RANGE: Final = 10_000

#: Loop iterations and function calls (macros included) in one rendering, all loops together:
#: nested loops multiply, and a bound on each one alone would still allow 10,000².
MAX_TEMPLATE_STEPS: Final = 100_000

#: Characters one rendering may produce, counting every intermediate string and list it builds, so
#: that no single step (``'x' * n``, a ``join``, a padded format) can allocate more.
MAX_TEMPLATE_OUTPUT: Final = 1024 * 1024

#: The same two, for all the renderings of one inventory together: a string in ``defaults`` is
#: rendered once per device, and 5,000 devices times a template just under the limits is a long CI
#: run. A real inventory spends a few steps per device.
MAX_TEMPLATE_STEPS_TOTAL: Final = 1_000_000
MAX_TEMPLATE_OUTPUT_TOTAL: Final = 64 * 1024 * 1024

#: Bits in any integer a template computes: ``10 ** 10 ** 10`` would otherwise run for hours.
MAX_TEMPLATE_INT_BITS: Final = 4096

#: Wall-clock seconds one rendering may take, a backstop for work the counters above do not see.
MAX_TEMPLATE_SECONDS: Final = 1.0

#: Problems printed one per line; the rest are counted (``--json`` lists them all). A hostile file
#: can hold a hundred thousand, and a person reads the first few.
MAX_DIAGNOSTICS_SHOWN: Final = 500

#: Environment variables any inventory may read without declaring them: enforcer's own namespace,
#: which no CI platform or cloud uses for its credentials.
ENV_ALWAYS_ALLOWED: Final = ("ENFORCE_*",)

#: Environment variables no declaration can open: the credentials CI platforms, clouds and package
#: registries put in a runner's environment. A pull request can edit the inventory's allow-list,
#: so this list is the floor it cannot go below.
ENV_NEVER_ALLOWED: Final = (
    "ACTIONS_*",
    "ARM_*",
    "AWS_*",
    "AZURE_*",
    "BITBUCKET_*",
    "BUILDKITE_*",
    "CI_*",
    "CIRCLE_*",
    "CLOUDSDK_*",
    "DIGITALOCEAN_*",
    "DOCKER_*",
    "DRONE_*",
    "GCP_*",
    "GITHUB_*",
    "GITLAB_*",
    "GOOGLE_*",
    "JENKINS_*",
    "NODE_AUTH_TOKEN",
    "NPM_TOKEN",
    "PYPI_*",
    "RUNNER_*",
    "SSH_*",
    "SYSTEM_ACCESSTOKEN",
    "TRAVIS_*",
    "TWINE_*",
    "VAULT_TOKEN",
)

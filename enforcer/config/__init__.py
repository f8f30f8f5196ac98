"""Loading what an MSP writes: inventory and playbook YAML → validated, layered, templated desired state.

Every problem is collected as a diagnostic naming file, line and key (:mod:`.diagnostics`); nothing
here touches a device. Secret references are resolved to masked values (:mod:`.secrets`), vault
files read and written in Ansible's format (:mod:`.vault`).
"""

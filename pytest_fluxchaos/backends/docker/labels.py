"""The labels on everything the docker backend creates: how teardown and gc find it."""

LABEL_RUN = "io.fluxchaos.run"
LABEL_MANAGED = "io.fluxchaos.managed"
LABEL_ROLE = "io.fluxchaos.role"
LABEL_NAMESPACE = "io.fluxchaos.namespace"
LABEL_POD = "io.fluxchaos.pod"
LABEL_RESTART = "io.fluxchaos.restart"
ROLE_POD = "pod"

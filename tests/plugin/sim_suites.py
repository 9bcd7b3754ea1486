"""Small suites for the in-memory backend: real shapes, sub-second timings."""

FAILOVER = """
suite: sim-failover
description: two leadership flips; the second leader holds a stale DB (docs/design.md, "The bug")
scenarios:
  - name: stale-failover
    variants: [single, ha-emptydir]
    images:
      - name: app
        tags: [1.0.0, 1.1.0, 1.2.0]
    repositories:
      - name: app
        image: app
        interval: 2s
    policies:
      - name: app-semver
        repository: app
        policy: {semver: {range: ">=1.0.0"}}
    steps:
      - push: {image: app, tags: [1.0.0, 1.1.0]}
      - after: {policy: app-semver, tag: 1.1.0, timeout: 10s}
      - after: {lease-age: 0.05s, timeout: 5s}
        fault: {kind: oom-kill, target: leader, confirm-timeout: 5s, keep-down: true, keep-down-timeout: 5s}
        repeat: {times: 6, until: {leader: other, timeout: 5s}}
      - push: {image: app, tags: [1.2.0]}
      - after: {policy: app-semver, tag: 1.2.0, timeout: 10s}
        fault: {kind: oom-kill, target: leader, confirm-timeout: 5s, keep-down: true, keep-down-timeout: 5s}
        repeat: {times: 6, until: {leader: other, timeout: 5s}}
    expect:
      ha-emptydir: {no-regression: false, converges: any}
    bounds: {converge: 4s, settle: 1s, stuck: 6s, wait: 10s, timeout: 60s}
"""

STEADY = """
scenarios:
  - name: steady
    variants: [single]
    images:
      - name: app
        tags: {semver: {start: 1.0.0, bump: minor}}
    repositories:
      - {name: app, image: app, interval: 1s}
    policies:
      - {name: latest, repository: app, policy: {semver: {range: ">=1.0.0"}}}
      - {name: alpha, repository: app, policy: {alphabetical: {order: asc}}}
    steps:
      - push: {image: app, next: 2}
      - repeat: {times: 2, every: 0.3s}
        push: {image: app, next: 1}
    bounds: {converge: 5s, settle: 1s, stuck: 5s, timeout: 30s}
"""

OUTAGE = """
scenarios:
  - name: outage
    variants: [single]
    images:
      - name: app
        tags: [1.0.0, 1.1.0, 1.2.0]
    repositories:
      - {name: app, image: app, interval: 0.1s}
    policies:
      - {name: app-semver, repository: app, policy: {semver: {range: ">=1.0.0"}}}
    steps:
      - push: {image: app, tags: [1.0.0, 1.1.0]}
      - after: {policy: app-semver, tag: 1.1.0, timeout: 5s}
      - fault: {id: down, kind: registry-outage, duration: 1.2s}
      - after: {fault: down}
        delay: 1.6s
      - push: {image: app, tags: [1.2.0]}
      - after: {policy: app-semver, tag: 1.2.0, timeout: 5s}
    expect:
      "*": {ready-honest: false}
    bounds: {converge: 4s, settle: 0.5s, stuck: 5s, honest: 0.5s, wait: 5s, timeout: 30s}
"""

EXPLORE_SMALL = """
suite: sim-explore-small
explore:
  name: sim-small
  images:
    - name: app
      tags: {semver: {start: 1.0.0, bump: minor}}
  repositories:
    - {name: app, image: app, interval: 2s}
  policies:
    - {name: app-semver, repository: app, policy: {semver: {range: ">=1.0.0"}}}
  variants: [ha-emptydir]
  rounds: {min: 2, max: 3}
  faults: {oom-kill: 1, kill: 1}
  keep-down: 1
  waits: 4s
  delays: {min: 0s, max: 1s}
  budget: {schedules: 4}
  confirm: {k: 1, r: 1}
  shrink: {runs: 4}
  expect: {converges: any}
  expect-findings: [no-regression]
  bounds: {converge: 3s, settle: 1s, stuck: 8s, wait: 10s, timeout: 40s}
"""

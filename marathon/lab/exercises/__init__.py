"""The exercises' test harness, a pytest plugin kept out of the learner's folder (exercism's
shape): `exercises/pytest.ini` loads it with `-p marathon.lab.exercises.plugin`.

- `config`: an exercise's `.meta/config.json` (its title, the learner's file, its tests);
- `answers`: which answer to test (`--answer FILE`), in task order, one failing task at a time;
- `report`: short coaching output, and `--report FILE` for `marathon workshop check`;
- `fixtures`: the real components (embedded PostgreSQL, the sandbox, default knobs), which the
  project's own tests use too;
- `observed`: what a request left: its trace (once settled), the emails the sandbox delivered;
- `endpoint`: the learner's strategy, mounted on the real app.

The exercises' tests import what they use from these modules (`endpoint.Endpoint`, `endpoint.ms`,
`observed.outbox`, `report.record_trace`); this file imports nothing, so that the coach reads a
config without loading pytest.
"""

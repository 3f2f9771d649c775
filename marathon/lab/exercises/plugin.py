"""The pytest plugin the exercises' tests run under (`-p marathon.lab.exercises.plugin` in
`exercises/pytest.ini`): it only gathers the harness's modules, each a plugin of its own."""

pytest_plugins = (
    "marathon.lab.exercises.answers",
    "marathon.lab.exercises.report",
    "marathon.lab.exercises.fixtures",
    "marathon.lab.exercises.endpoint",
)

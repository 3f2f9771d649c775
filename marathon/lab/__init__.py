"""The lab: everything that drives a server from outside (measure, compare, scenarios, the
demo's ending, the notebooks' helper, the workshop's coach, and in `exercises/` the pytest plugin
the exercises' tests run under). It sits above the app: it talks to a server over HTTP, or
starts one."""

"""The cluster journal: every rollback step recorded, as data, in the cluster it targets, and what
acts on it there. ``entries`` (the Secrets, read and written), ``entry`` (one entry's data and the
rules that decide whether it runs), ``settings`` (its config keys), ``lease`` (a live run's
Lease), ``mirror`` (a run writing its steps there), ``retention`` (when a finished run's entries
go), ``guard`` (the in-cluster guard that rolls back a dead run). Clients reach it through
``rollback.front``."""
